"""Retention of the event log: delete the events no client can be replayed any more.

A reconnecting client is replayed only the events of the last ``HUB_REPLAY_WINDOW_SECONDS``;
older ones only tell it to refetch. :func:`event_log_prune` deletes those older events, a small
batch per transaction (:mod:`hub.domain.retention`), with two exceptions:

- On PostgreSQL, nothing above the relay's cursor (``hub_relay_cursor``, row ``relay``): an
  event the relay has not published yet must still reach the browsers, however old it is.
- The newest event, even when old. The log's highest id is how far the log reached: on SQLite
  the dispatcher and the console's live pages read it as max(id) (``event_settled_id``), as does
  a relay starting without a cursor. An empty log would read as 0 and send every client back to
  the start. Keeping one row is simpler than teaching each reader the id sequence of each
  database, and costs one row.

Each batch also raises the ``pruned`` mark (``hub_relay_cursor``, row ``pruned``) to the highest
id it deleted, in the same transaction: a client resuming from below it is told to refetch
(``event_replay_incomplete``), since what it missed is gone and can no longer be checked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import connection
from django.db.models import Max
from django.utils import timezone

from hub.domain.events.models import Event, RelayCursor
from hub.domain.events.selectors import PRUNED_CURSOR, RELAY_CURSOR
from hub.domain.retention import Pruned, rows_prune


def event_log_prune(
    *,
    older_than: datetime,
    batch_size: int,
    max_rows: int,
    dry_run: bool = False,
    progress: Callable[[Pruned], None] | None = None,
) -> Pruned:
    """Delete the events created before ``older_than`` that are published and not the newest."""
    upto = _deletable_upto()
    if upto <= 0:
        return Pruned(table=Event._meta.db_table, dry_run=dry_run)
    return rows_prune(
        table=Event._meta.db_table,
        where="id <= %s AND created_at < %s",
        params=[upto, older_than],
        batch_size=batch_size,
        max_rows=max_rows,
        dry_run=dry_run,
        in_batch=_pruned_mark_raise,
        progress=progress,
    )


def _deletable_upto() -> int:
    """The highest id a prune may delete: below the newest, and published on PostgreSQL."""
    upto = (Event.objects.aggregate(newest=Max("id"))["newest"] or 0) - 1
    if connection.vendor == "postgresql":
        # No cursor yet: the relay has published nothing, so nothing may go.
        published = (
            RelayCursor.objects.filter(name=RELAY_CURSOR)
            .values_list("last_event_id", flat=True)
            .first()
        )
        upto = min(upto, published or 0)
    return upto


def _pruned_mark_raise(ids: list[int]) -> None:
    # Never lowered: a later batch may delete an id below the mark (an event whose created_at
    # is younger than a later one's, from another process's clock).
    top = max(ids)
    raised = RelayCursor.objects.filter(name=PRUNED_CURSOR, last_event_id__lt=top).update(
        last_event_id=top, updated_at=timezone.now()
    )
    if not raised:
        RelayCursor.objects.get_or_create(name=PRUNED_CURSOR, defaults={"last_event_id": top})
