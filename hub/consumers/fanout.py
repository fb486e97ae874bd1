"""Hand committed events to the websocket processes.

Every web process keeps one subscription to the event stream (the channel-layer group
``hub.events``) and fans each event out to its own connections; a message carries a batch
of events with ``prev`` (the id the batch follows) and ``upto`` (the id delivery has settled
at), so a process that missed a message (a channel layer may drop under load) notices and
reads the missing events from the log.

Without a shared channel layer (the embedded default), publishing wakes this process's
dispatcher, which reads the new events from the log in order.
"""

from __future__ import annotations

from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

from hub.domain.events.models import Event

EVENTS_GROUP = "hub.events"
MESSAGE_TYPE = "hub.events"


def event_wire(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "company_id": event.company_id,
        "audience": event.audience,
        "user_id": event.user_id,
        "topic": event.topic,
        "type": event.type,
        "payload": event.payload,
    }


def layer_is_local() -> bool:
    layer = get_channel_layer()
    return layer is None or isinstance(layer, InMemoryChannelLayer)


async def publish_batch(events: list[dict[str, Any]], prev: int, upto: int) -> None:
    """Publish a gap-free batch of events (called by the relay)."""
    message = {"type": MESSAGE_TYPE, "events": events, "prev": prev, "upto": upto}
    if layer_is_local():
        from hub.consumers.dispatcher import dispatcher

        await dispatcher.handle_message(message)
    else:
        await get_channel_layer().group_send(EVENTS_GROUP, message)


def publish_event_id(event_id: int) -> None:
    """After a commit on a database without triggers: wake the dispatchers to read the log.

    Registered with ``hub.domain.events.services.event_committed_connect`` at start-up.
    """
    if layer_is_local():
        from hub.consumers.dispatcher import dispatcher

        dispatcher.wake_threadsafe()
    else:
        from asgiref.sync import async_to_sync

        async_to_sync(get_channel_layer().group_send)(
            EVENTS_GROUP, {"type": MESSAGE_TYPE, "wake": True}
        )
