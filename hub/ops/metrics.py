"""Prometheus metrics of the process (served at ``/metrics``)."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("hub_http_requests_total", "HTTP requests answered", ["method", "status"])
HTTP_LATENCY = Histogram("hub_http_request_seconds", "Time to answer an HTTP request")
WS_CONNECTIONS = Gauge("hub_ws_connections", "Open websocket connections in this process")
EVENTS_APPENDED = Counter("hub_events_appended_total", "Events appended to hub_event", ["topic"])
