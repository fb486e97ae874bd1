"""The operations figures: what the operations page (``/console/ops/``) and ``/metrics`` show.

:func:`ops_snapshot` reads them all, in a dozen queries whatever the number of rows, plus one
round trip to the broker: the page asks every ``HUB_OPS_REFRESH_SECONDS``. What several
processes count is in tables (``hub.ops.models``): each web process saves its open websockets
(:func:`web_presence_save`), the workers their queues' counters and the scheduler its runs
(``hub.workers.stats``). ``docs/processes.md`` says what each figure means.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import dramatiq
from django.conf import settings
from django.db.models import (
    BigIntegerField,
    CharField,
    Count,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
)
from django.utils import timezone
from dramatiq.common import dq_name, q_name, xq_name

from hub.domain.authentication.models import Company
from hub.domain.emails.models import EmailAccount, EmailSyncLog, SyncStatus
from hub.domain.emails.sync import accounts_waiting_after_failures, sync_retry_delay
from hub.domain.events.models import Event, EventOutbox
from hub.domain.events.selectors import event_settled_id
from hub.domain.events.services import triggers_write_events
from hub.integrations.slack.models import AlertStatus, SlackAlert, SlackInstallation
from hub.integrations.twilio.models import TwilioCallback
from hub.ops.models import SchedulerRun, WebPresence, WorkerQueueStat
from hub.workers import actors  # noqa: F401  (declares every actor's queue on the broker)
from hub.workers.scheduler import hub_jobs

logger = logging.getLogger(__name__)

NO_COMPANY = "none"  # the key of connections without a company in hub_web_presence.by_company
EVENT_BUCKET_SECONDS = 10
EVENT_SERIES_BUCKETS = 60  # ten minutes
EVENT_RATE_SECONDS = 60
PRESENCE_FORGET = timedelta(hours=1)  # a process silent this long is deleted from the table
LIST_LIMIT = 200  # mailboxes, Slack workspaces: the page lists at most this many (failing first)
NEVER_RUN = "never run"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- clients ------------------------------------------------------------------------------


def web_presence_save(*, process: str, by_company: dict[int | None, int]) -> None:
    """Save this web process's open websockets per company (None: no company), as of now."""
    now = timezone.now()
    counts = {NO_COMPANY if k is None else str(k): n for k, n in by_company.items() if n}
    WebPresence.objects.bulk_create(
        [WebPresence(process=process, by_company=counts, updated_at=now)],
        update_conflicts=True,
        unique_fields=["process"],
        update_fields=["by_company", "updated_at"],
    )
    WebPresence.objects.filter(updated_at__lt=now - PRESENCE_FORGET).delete()


def web_presence_drop(*, process: str) -> None:
    """Forget this web process's connections (it is shutting down)."""
    WebPresence.objects.filter(process=process).delete()


def clients_figure() -> dict[str, Any]:
    fresh = timezone.now() - timedelta(seconds=3 * settings.HUB_OPS_PRESENCE_SECONDS)
    totals: dict[int | None, int] = {}
    processes = 0
    for counts in WebPresence.objects.filter(updated_at__gte=fresh).values_list(
        "by_company", flat=True
    ):
        processes += 1
        for key, count in counts.items():
            company_id = None if key == NO_COMPANY else int(key)
            totals[company_id] = totals.get(company_id, 0) + int(count)
    names = dict(
        Company.objects.filter(pk__in=[k for k in totals if k is not None]).values_list(
            "pk", "company_name"
        )
    )
    named = [
        (count, "No company" if company_id is None else names.get(company_id, "?"), company_id)
        for company_id, count in totals.items()
    ]
    named.sort(key=lambda row: (-row[0], row[1]))
    by_company = [
        {"company_id": company_id, "company": name, "count": count}
        for count, name, company_id in named
    ]
    return {"total": sum(totals.values()), "by_company": by_company, "processes": processes}


# --- events and the relay -----------------------------------------------------------------


class _Bucket(Func):
    """The 10-second bucket of a timestamp: whole seconds since the epoch // 10."""

    output_field = BigIntegerField()

    def as_sql(self, compiler, connection, **extra):  # PostgreSQL
        return super().as_sql(
            compiler,
            connection,
            template=f"floor(extract(epoch FROM %(expressions)s) / {EVENT_BUCKET_SECONDS})",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(
            compiler,
            connection,
            template=(
                f"CAST(strftime('%%%%s', %(expressions)s) AS INTEGER) / {EVENT_BUCKET_SECONDS}"
            ),
            **extra,
        )


def events_figure(now: datetime | None = None) -> dict[str, Any]:
    """Events per second over the last minute, and per 10-s bucket over the last 10 minutes."""
    now = now or timezone.now()
    newest = int(now.timestamp()) // EVENT_BUCKET_SECONDS
    first = newest - EVENT_SERIES_BUCKETS + 1
    since = datetime.fromtimestamp(first * EVENT_BUCKET_SECONDS, tz=now.tzinfo)
    # One query: per bucket, its events and those of them within the last minute.
    recent = Q(created_at__gt=now - timedelta(seconds=EVENT_RATE_SECONDS))
    counted: dict[int, int] = {}
    last_minute = 0
    for bucket, n, n_recent in (
        Event.objects.filter(created_at__gte=since)
        .annotate(bucket=_Bucket("created_at"))
        .values("bucket")
        .annotate(n=Count("id"), n_recent=Count("id", filter=recent))
        .values_list("bucket", "n", "n_recent")
    ):
        counted[int(bucket)] = n
        last_minute += n_recent
    series = [
        {
            "at": datetime.fromtimestamp(b * EVENT_BUCKET_SECONDS, tz=now.tzinfo).isoformat(),
            "count": counted.get(b, 0),
        }
        for b in range(first, newest + 1)
    ]
    return {"per_second": round(last_minute / EVENT_RATE_SECONDS, 3), "series": series}


def relay_figure() -> dict[str, Any]:
    """How far the relay is behind: committed events still in the outbox (PostgreSQL only)."""
    if not triggers_write_events():  # SQLite: events are written straight to the log
        return {"lag_seconds": 0.0, "backlog": 0, "last_event_id": event_settled_id()}
    waiting = EventOutbox.objects.aggregate(backlog=Count("id"), oldest=Min("created_at"))
    oldest = waiting["oldest"]
    lag = max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0
    return {
        "lag_seconds": round(lag, 3),
        "backlog": waiting["backlog"],
        "last_event_id": event_settled_id(),
    }


# --- Dramatiq queues ----------------------------------------------------------------------


def broker_queue_names(broker: dramatiq.Broker) -> list[str]:
    """The broker's declared queues, without their delay and dead-letter queues."""
    return sorted({q_name(name) for name in broker.get_declared_queues()} - {""})


def broker_depths(broker: dramatiq.Broker, queues: list[str]) -> dict[str, tuple[int, int, int]]:
    """Per queue: (messages waiting or being worked on, delayed, dead-lettered)."""
    name = type(broker).__name__
    # By name, so that the broker not in use need not be importable (pika, redis).
    if name == "RedisBroker":
        return _redis_depths(broker, queues)
    if name == "RabbitmqBroker":
        return _rabbitmq_depths(broker, queues)
    if name == "StubBroker":
        return _stub_depths(broker, queues)
    raise NotImplementedError(f"no queue depths for {name}")


def _redis_depths(broker, queues: list[str]) -> dict[str, tuple[int, int, int]]:
    # Dramatiq's keys (dramatiq/brokers/redis/dispatch.lua): "<ns>:<q>.msgs" holds every
    # message not acked yet (waiting, or fetched by a worker), "<ns>:<q>.XQ" the dead letters.
    ns = broker.namespace
    pipe = broker.client.pipeline(transaction=False)
    for queue in queues:
        pipe.hlen(f"{ns}:{queue}.msgs")
        pipe.hlen(f"{ns}:{dq_name(queue)}.msgs")
        pipe.zcard(f"{ns}:{xq_name(queue)}")
    answers = pipe.execute()
    return {q: tuple(answers[3 * i : 3 * i + 3]) for i, q in enumerate(queues)}  # type: ignore[misc]


def _rabbitmq_depths(broker, queues: list[str]) -> dict[str, tuple[int, int, int]]:
    # A passive declare answers the queue's message count (not those a consumer holds unacked).
    # On a channel of its own: a queue the server does not know (404) closes the channel it was
    # asked on, and the broker's own channel is the one this thread enqueues on.
    # Lazy: pika is only installed with the RabbitMQ broker.
    from pika.exceptions import ChannelClosedByBroker

    channel = broker.connection.channel()
    counts = {}
    try:
        for queue in queues:
            row = []
            for name in (queue, dq_name(queue), xq_name(queue)):
                try:
                    row.append(channel.queue_declare(queue=name, passive=True).method.message_count)
                except ChannelClosedByBroker as exc:
                    if exc.reply_code != 404:
                        raise
                    row.append(0)  # not declared on the server yet: nothing was sent to it
                    channel = broker.connection.channel()
            counts[queue] = (row[0], row[1], row[2])
    finally:
        if channel.is_open:
            channel.close()
    return counts


def _stub_depths(broker, queues: list[str]) -> dict[str, tuple[int, int, int]]:
    def size(name: str) -> int:
        queue = broker.queues.get(name)
        return queue.qsize() if queue is not None else 0

    return {
        q: (size(q), size(dq_name(q)), len(broker.dead_letters_by_queue.get(q, ()))) for q in queues
    }


def queue_depths() -> dict[str, tuple[int, int, int]]:
    """Depth, delayed and dead of every queue declared on the broker (raises if it is away)."""
    broker = dramatiq.get_broker()
    return broker_depths(broker, broker_queue_names(broker))


def queue_stat_rows() -> list[tuple[str, str, int, int, int]]:
    """(queue, actor, failed, retried, processed) of every worker counter."""
    return list(
        WorkerQueueStat.objects.order_by("queue", "actor").values_list(
            "queue", "actor", "failed", "retried", "processed"
        )
    )


def queue_counters() -> dict[str, dict[str, Any]]:
    """The workers' counters (every worker process), per queue."""
    per_queue: dict[str, dict[str, Any]] = {}
    for row in WorkerQueueStat.objects.order_by("queue", "actor"):
        queue = per_queue.setdefault(
            row.queue,
            {"failed": 0, "retried": 0, "processed": 0, "last_error": None, "last_error_at": None},
        )
        queue["failed"] += row.failed
        queue["retried"] += row.retried
        queue["processed"] += row.processed
        if row.last_error_at and (
            queue["last_error_at"] is None or row.last_error_at > queue["last_error_at"]
        ):
            queue["last_error"], queue["last_error_at"] = row.last_error, row.last_error_at
    return per_queue


def queues_figure() -> list[dict[str, Any]]:
    """Each queue's depth (None: the broker did not answer) and the workers' counters."""
    broker = dramatiq.get_broker()
    counters = queue_counters()
    names = sorted(set(broker_queue_names(broker)) | set(counters))
    try:
        depths: dict[str, tuple[int | None, ...]] = dict(broker_depths(broker, names))
    except Exception as exc:  # any failure: the page still shows the counters
        logger.warning("ops figures: cannot read the queue depths (%s)", exc)
        depths = {}
    empty = {"failed": 0, "retried": 0, "processed": 0, "last_error": None, "last_error_at": None}
    figure = []
    for name in names:
        depth, delayed, dead = depths.get(name, (None, None, None))
        counted = counters.get(name, empty)
        figure.append(
            {
                "name": name,
                "depth": depth,
                "delayed": delayed,
                "dead": dead,
                **counted,
                "last_error_at": _iso(counted["last_error_at"]),
            }
        )
    return figure


# --- Twilio inbox, scheduler, mailboxes, Slack --------------------------------------------


def twilio_inbox_figure() -> dict[str, Any]:
    """Callbacks not applied yet (the backlog), of which those that failed at least once."""
    waiting = TwilioCallback.objects.filter(processed_at__isnull=True).aggregate(
        backlog=Count("id"), failed=Count("id", filter=Q(attempts__gt=0)), oldest=Min("verified_at")
    )
    oldest = waiting["oldest"]
    return {
        "backlog": waiting["backlog"],
        "failed": waiting["failed"],
        "oldest_backlog_seconds": (
            round(max(0.0, (timezone.now() - oldest).total_seconds()), 3) if oldest else None
        ),
    }


def scheduler_figure() -> list[dict[str, Any]]:
    """Every periodic job, when the scheduler last enqueued it and how that went."""
    runs = {run.job: run for run in SchedulerRun.objects.all()}
    figure = []
    for job in hub_jobs(quiet=True):
        run = runs.get(job.actor_path)
        figure.append(
            {
                "job": job.actor_path.rsplit(".", 1)[-1],
                "every_seconds": job.every_seconds,
                "last_run": _iso(run.last_run) if run else None,
                "last_outcome": run.last_outcome if run else NEVER_RUN,
            }
        )
    return figure


def mailboxes_figure() -> list[dict[str, Any]]:
    """The mailboxes the sync reads: last sync, the last run's error, and a back-off under way."""
    now = timezone.now()
    latest = EmailSyncLog.objects.filter(email_account=OuterRef("pk")).order_by(
        "-sync_started_at", "-pk"
    )
    accounts = (
        EmailAccount.objects.filter(is_active=True, sync_enabled=True)
        .exclude(imap_host__isnull=True)
        .exclude(imap_host="")
        .annotate(
            company_name=F("company__company_name"),
            run_status=Subquery(latest.values("status")[:1], output_field=CharField()),
            run_error=Subquery(latest.values("error_message")[:1], output_field=CharField()),
        )
        .order_by("company__company_name", "email", "pk")
        .values("pk", "email", "company_name", "last_sync", "run_status", "run_error")
    )
    rows = list(accounts)
    rows.sort(key=lambda row: row["run_status"] != SyncStatus.FAILED)  # failing first, stable
    rows = rows[:LIST_LIMIT]
    waiting = _backoff_until([row["pk"] for row in rows], now)
    return [
        {
            "id": row["pk"],
            "email": row["email"],
            "company": row["company_name"],
            "last_sync": _iso(row["last_sync"]),
            "last_error": (
                (row["run_error"] or "failed") if row["run_status"] == SyncStatus.FAILED else None
            ),
            "backing_off_until": _iso(waiting.get(row["pk"])),
        }
        for row in rows
    ]


def _backoff_until(account_ids: list[int], now: datetime) -> dict[int, datetime]:
    """Until when the scheduler leaves each waiting account alone after its failed runs.

    Which accounts wait is the scheduler's own rule (``accounts_waiting_after_failures``);
    until when is its delay after the failures of the spell (``sync_retry_delay``).
    """
    waiting = set(accounts_waiting_after_failures(now=now)) & set(account_ids)
    if not waiting:
        return {}
    spells = (
        EmailSyncLog.objects.filter(
            email_account_id__in=waiting,
            status=SyncStatus.FAILED,
            sync_completed_at__gte=F("email_account__sync_state__failing_since")
            - timedelta(minutes=1),
        )
        .values("email_account_id")
        .annotate(failures=Count("id", output_field=IntegerField()), last=Max("sync_completed_at"))
    )
    return {
        spell["email_account_id"]: spell["last"] + sync_retry_delay(spell["failures"])
        for spell in spells
    }


def slack_figure() -> list[dict[str, Any]]:
    """The Slack workspaces: on or off, and why alerts did not get through, if they did not."""
    alerts = SlackAlert.objects.filter(installation=OuterRef("pk")).order_by("-id")
    erring = alerts.filter(status__in=[AlertStatus.FAILED, AlertStatus.PENDING]).exclude(
        last_error=""
    )
    installations = (
        SlackInstallation.objects.annotate(
            company_name=F("company__company_name"),
            error_id=Subquery(erring.values("id")[:1]),
            error=Subquery(erring.values("last_error")[:1]),
            sent_id=Subquery(alerts.filter(status=AlertStatus.SENT).values("id")[:1]),
        )
        .order_by("company__company_name", "team_name", "pk")
        .values(
            "pk",
            "team_id",
            "team_name",
            "company_name",
            "is_active",
            "alerts_channel_error",
            "error_id",
            "error",
            "sent_id",
        )
    )
    figure = []
    for row in installations[:LIST_LIMIT]:
        # An alert's error counts until a later alert of the workspace got through.
        delivery = (
            row["error"] if row["error_id"] and row["error_id"] > (row["sent_id"] or 0) else ""
        )
        figure.append(
            {
                "id": row["pk"],
                "team": row["team_name"] or row["team_id"],
                "company": row["company_name"],
                "active": row["is_active"],
                "last_error": row["alerts_channel_error"] or delivery or None,
            }
        )
    return figure


def ops_snapshot() -> dict[str, Any]:
    """Every figure of the operations page, JSON-serialisable."""
    return {
        "generated_at": timezone.now().isoformat(),
        "clients": clients_figure(),
        "events": events_figure(),
        "relay": relay_figure(),
        "queues": queues_figure(),
        "twilio_inbox": twilio_inbox_figure(),
        "scheduler": scheduler_figure(),
        "mailboxes": mailboxes_figure(),
        "slack": slack_figure(),
    }
