"""The event log's own counters, registered with prometheus-client's default registry.

Defined here, not in ``hub.ops.metrics``, so the domain counts without importing the room above
it; ``/metrics`` serves the default registry, which holds both.
"""

from prometheus_client import Counter

EVENTS_APPENDED = Counter(
    "hub_events_appended_total", "Events appended by the hub's own services", ["topic"]
)
