"""Prometheus metrics of the process (served at ``/metrics``)."""

import logging
from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, Metric
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

ops_logger = logging.getLogger("hub.ops.health")

HTTP_REQUESTS = Counter("hub_http_requests_total", "HTTP requests answered", ["method", "status"])
HTTP_LATENCY = Histogram("hub_http_request_seconds", "Time to answer an HTTP request")
WS_CONNECTIONS = Gauge("hub_ws_connections", "Open websocket connections in this process")
# Retention (hub.ops.retention), counted in the process that ran it.
RETENTION_DELETED = Counter(
    "hub_retention_deleted_rows_total", "Rows deleted by retention, by table", ["table"]
)
# PostgreSQL only (pg_total_relation_size: the table with its indexes and TOAST).
TABLE_SIZE = Gauge(
    "hub_table_size_bytes", "Size of a table on disk, as of the last retention run", ["table"]
)


# --- the operations figures, read at scrape time --------------------------------------------
# Counted by other processes (workers, the relay) or held by the broker, so read from there
# when /metrics is asked. hub.ops.views registers the collector with the functions of
# hub.ops.health that read them (passed in: this module is imported before the apps load).


class OpsSource(Protocol):
    def queue_depths(self) -> dict[str, tuple[int, int, int]]: ...
    def queue_stat_rows(self) -> list[tuple[str, str, int, int, int]]: ...
    def relay_figure(self) -> dict[str, Any]: ...
    def twilio_inbox_figure(self) -> dict[str, Any]: ...
    def clients_figure(self) -> dict[str, Any]: ...


class OpsCollector(Collector):
    """The figures of the operations page; one that cannot be read is left out (and logged)."""

    def __init__(self, source: OpsSource) -> None:
        self.source = source

    def describe(self) -> Iterator[Metric]:
        # Names and types only: registering must not read the database or the broker.
        for part in (self._queues, self._counters, self._relay, self._twilio, self._clients):
            yield from part(empty=True)

    def collect(self) -> Iterator[Metric]:
        for part in (self._queues, self._counters, self._relay, self._twilio, self._clients):
            try:
                families = list(part(empty=False))
            except Exception as exc:  # the broker or the database is away: skip these
                ops_logger.warning("metrics: skipped %s (%s)", part.__name__.strip("_"), exc)
                continue
            yield from families

    def _queues(self, *, empty: bool) -> Iterator[Metric]:
        labels = ["queue"]
        depth = GaugeMetricFamily(
            "hub_dramatiq_queue_depth", "Messages in a queue not done yet", labels=labels
        )
        delayed = GaugeMetricFamily(
            "hub_dramatiq_queue_delayed", "Messages waiting in a queue's delay queue", labels=labels
        )
        dead = GaugeMetricFamily(
            "hub_dramatiq_queue_dead", "Dead-lettered messages of a queue", labels=labels
        )
        if not empty:
            for queue, (waiting, later, failed) in self.source.queue_depths().items():
                depth.add_metric([queue], waiting)
                delayed.add_metric([queue], later)
                dead.add_metric([queue], failed)
        yield from (depth, delayed, dead)

    def _counters(self, *, empty: bool) -> Iterator[Metric]:
        labels = ["queue", "actor"]
        failed = CounterMetricFamily(
            "hub_dramatiq_messages_failed", "Messages dead-lettered, every worker", labels=labels
        )
        retried = CounterMetricFamily(
            "hub_dramatiq_messages_retried", "Messages retried after an error", labels=labels
        )
        processed = CounterMetricFamily(
            "hub_dramatiq_messages_processed", "Messages run without an error", labels=labels
        )
        if not empty:
            for queue, actor, n_failed, n_retried, n_processed in self.source.queue_stat_rows():
                failed.add_metric([queue, actor], n_failed)
                retried.add_metric([queue, actor], n_retried)
                processed.add_metric([queue, actor], n_processed)
        yield from (failed, retried, processed)

    def _relay(self, *, empty: bool) -> Iterator[Metric]:
        relay = {} if empty else self.source.relay_figure()
        yield GaugeMetricFamily(
            "hub_relay_lag_seconds",
            "Age of the oldest committed event the relay has not logged yet",
            value=None if empty else relay["lag_seconds"],
        )
        yield GaugeMetricFamily(
            "hub_relay_backlog",
            "Committed events waiting in the outbox for the relay",
            value=None if empty else relay["backlog"],
        )

    def _twilio(self, *, empty: bool) -> Iterator[Metric]:
        inbox = {} if empty else self.source.twilio_inbox_figure()
        yield GaugeMetricFamily(
            "hub_twilio_inbox_backlog",
            "Twilio callbacks stored and not applied yet",
            value=None if empty else inbox["backlog"],
        )
        yield GaugeMetricFamily(
            "hub_twilio_inbox_failed",
            "Twilio callbacks not applied that failed at least once",
            value=None if empty else inbox["failed"],
        )

    def _clients(self, *, empty: bool) -> Iterator[Metric]:
        clients = GaugeMetricFamily(
            "hub_ws_clients",
            "Open websockets of every web process, per company",
            labels=["company"],
        )
        if not empty:
            for row in self.source.clients_figure()["by_company"]:
                company = "none" if row["company_id"] is None else str(row["company_id"])
                clients.add_metric([company], row["count"])
        yield clients


_ops_collector: OpsCollector | None = None


def ops_collector_register(source: OpsSource) -> None:
    """Add the operations figures to /metrics (once per process)."""
    global _ops_collector
    if _ops_collector is None:
        _ops_collector = OpsCollector(source)
        REGISTRY.register(_ops_collector)
