"""Prometheus metrics of the process (served at ``/metrics``)."""

from prometheus_client import Counter, Gauge, Histogram

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
