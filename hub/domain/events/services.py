"""Append to the event log inside the caller's transaction; fan out only after commit.

On PostgreSQL, triggers on the watched shared tables write the events themselves (so the CRM
app or a psql session triggers pushes too) and ``NOTIFY``; the relay fans out. Elsewhere (the
embedded SQLite default) services record the same events here and they are fanned out in
process after commit. Either way each change yields exactly one event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from hub.domain.events import metrics
from hub.domain.events.models import Audience, Event

# Called with an event's id after the transaction that appended it commits (on databases
# without triggers). The delivery path registers its publisher here (hub.consumers' AppConfig),
# so the domain never imports the room above it.
_committed_hooks: list[Callable[[int], None]] = []


def event_committed_connect(hook: Callable[[int], None]) -> None:
    """Call ``hook(event_id)`` after each in-process event append commits."""
    if hook not in _committed_hooks:
        _committed_hooks.append(hook)


def triggers_write_events() -> bool:
    return connection.vendor == "postgresql"


def event_append(
    *,
    company_id: int | None,
    audience: str,
    user_id: int | None,
    topic: str,
    type: str,
    payload: dict[str, Any],
) -> Event | None:
    """Append one event now and publish it once the surrounding transaction commits.

    On PostgreSQL the event goes where the triggers put theirs (the outbox, through
    ``hub_event_emit``) and the relay logs and publishes it at commit; nothing is returned,
    as its log id does not exist until then. Elsewhere it is logged at once.
    """
    if audience not in Audience.values:
        raise ValueError(f"unknown audience {audience!r}")
    metrics.EVENTS_APPENDED.labels(topic=topic).inc()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT hub_event_emit(%s, %s, %s, %s, %s, %s::jsonb)",
                [
                    company_id,
                    audience,
                    user_id,
                    topic,
                    type,
                    json.dumps(payload, cls=DjangoJSONEncoder),
                ],
            )
        return None
    # SQLite lets one transaction write at a time, from its first write to its commit: ids
    # given inside a transaction that writes are already in commit order.
    event = Event.objects.create(
        company_id=company_id,
        audience=audience,
        user_id=user_id,
        topic=topic,
        type=type,
        payload=payload,
    )
    transaction.on_commit(lambda: _publish(event.id), robust=True)
    return event


def event_record(**fields: Any) -> Event | None:
    """Record a change to a watched table, unless a database trigger already does."""
    if triggers_write_events():
        return None
    return event_append(**fields)


def _publish(event_id: int) -> None:
    for hook in _committed_hooks:
        hook(event_id)
