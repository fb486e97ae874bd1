"""Hand committed events to the websocket layer (replaced by the process-local dispatcher)."""

from __future__ import annotations

from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from hub.domain.events.models import Event

EVENTS_GROUP = "hub.events"


def event_wire(event: Event) -> dict:
    return {
        "id": event.id,
        "company_id": event.company_id,
        "audience": event.audience,
        "user_id": event.user_id,
        "topic": event.topic,
        "type": event.type,
        "payload": event.payload,
    }


def publish_event_ids(event_ids: Iterable[int]) -> None:
    events = list(Event.objects.filter(id__in=list(event_ids)).order_by("id"))
    if not events:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(
        EVENTS_GROUP, {"type": "hub.events", "events": [event_wire(e) for e in events]}
    )
