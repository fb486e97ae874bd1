"""The event log as a test reads it: on PostgreSQL, committed events first wait in the outbox.

There the relay moves them into ``hub_event`` at commit (``hub_event_outbox_move``); a test
with no relay running moves them itself, on its own connection (and so, inside a test's
transaction, also the rows that transaction wrote), before it reads the log.
"""

from __future__ import annotations

import time

from django.db import connection
from django.db.models import QuerySet

from hub.domain.events.models import Event


def event_log_flush() -> int:
    """Move every event waiting in the outbox into hub_event; return how many."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM hub_event_outbox_move(%s)", [1_000_000])
        return cursor.fetchone()[0]


def event_log_settled(timeout: float = 10.0) -> None:
    """Wait until a running relay has moved every committed event out of the outbox."""
    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM hub_event_outbox)")
            if not cursor.fetchone()[0]:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the relay left events in the outbox for {timeout} s")
            time.sleep(0.01)


def logged_events() -> QuerySet[Event]:
    """The log, with every event committed so far (or written by this test's transaction) in it."""
    event_log_flush()
    return Event.objects.all()
