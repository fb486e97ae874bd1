"""Append to the event log inside the caller's transaction; fan out only after commit.

On PostgreSQL, triggers on the watched shared tables write the events themselves (so the CRM
app or a psql session triggers pushes too) and ``NOTIFY``; the relay fans out. Elsewhere (the
embedded SQLite default) services record the same events here and they are fanned out in
process after commit. Either way each change yields exactly one event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Max

from hub.domain.events import metrics
from hub.domain.events.models import Audience, Event, RelayCursor

T = TypeVar("T")

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


def _cursor_locked(name: str) -> tuple[RelayCursor, bool]:
    """The ``hub_relay_cursor`` row ``name``, locked; created (True) at the log's newest id."""
    cursor = RelayCursor.objects.select_for_update().filter(name=name).first()
    if cursor is not None:
        return cursor, False
    newest = Event.objects.aggregate(newest=Max("id"))["newest"] or 0
    # A concurrent first reader inserts too: one row wins, the other waits for it and reads it.
    RelayCursor.objects.bulk_create(
        [RelayCursor(name=name, last_event_id=newest)], ignore_conflicts=True
    )
    return RelayCursor.objects.select_for_update().get(name=name), True


def event_log_consume(
    *, cursor: str, types: Iterable[str], limit: int, handle: Callable[[list[Event]], T]
) -> T | None:
    """Hand the log's events of ``types`` after the ``cursor`` row to ``handle``, once each.

    In one transaction holding the cursor's row lock: ``handle`` gets the events after the
    cursor (at most ``limit``, in id order, possibly none), and the cursor moves past them
    when it returns, so a crash in ``handle`` leaves them to the next run and two readers of
    one cursor never both take an event. The first run only places the cursor at the newest
    event (nothing of the history is handed over) and returns None.
    """
    with transaction.atomic():
        row, created = _cursor_locked(cursor)
        if created:
            return None
        # The newest id first, then the rows up to it: every id below one visible is committed
        # (ids are commit order), so nothing committing meanwhile is skipped.
        upto = Event.objects.aggregate(newest=Max("id"))["newest"] or 0
        events = list(
            Event.objects.filter(
                id__gt=row.last_event_id, id__lte=upto, type__in=list(types)
            ).order_by("id")[:limit]
        )
        result = handle(events)
        last = events[-1].id if len(events) == limit else upto
        if last > row.last_event_id:
            row.last_event_id = last
            row.save(update_fields=["last_event_id", "updated_at"])
    return result
