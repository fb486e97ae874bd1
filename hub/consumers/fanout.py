"""Hand committed events to the websocket processes.

Every web process keeps one subscription to the event stream (the channel-layer group
``hub.events``) and fans each event out to its own connections; a message carries a batch
of events with ``prev`` (the id the batch follows) and ``upto`` (the id delivery has settled
at), so a process that missed a message (a channel layer may drop under load) notices and
reads the missing events from the log.

Without a shared channel layer (the embedded default), publishing wakes this process's
dispatcher, which reads the new events from the log in order. The publishing functions are
the dispatcher's (``hub.consumers.dispatcher.publish_batch``, ``publish_event_id``); this module
holds what both sides share: the group, the message type and an event's wire form.
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
