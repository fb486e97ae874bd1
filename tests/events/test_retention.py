"""Retention of the event log: old events go a batch at a time; what is still needed stays."""

from __future__ import annotations

import threading
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone

from hub.domain.events.models import Event, RelayCursor
from hub.domain.events.retention import event_log_prune
from hub.domain.events.selectors import (
    RELAY_CURSOR,
    event_pruned_upto,
    event_replay_incomplete,
    event_settled_id,
    viewer_for_user,
)

DAY = timedelta(days=1)
OLD = 2 * DAY


def _event(*, age: timedelta = timedelta(0), company_id: int | None = None) -> Event:
    event = Event.objects.create(
        company_id=company_id, audience="company", topic="calls", type="call.updated", payload={}
    )
    if age:
        Event.objects.filter(pk=event.pk).update(created_at=timezone.now() - age)
    return event


def _published_upto(event_id: int) -> None:
    """Where the relay's cursor stands (read on PostgreSQL only)."""
    RelayCursor.objects.update_or_create(name=RELAY_CURSOR, defaults={"last_event_id": event_id})


def _ids() -> list[int]:
    return list(Event.objects.order_by("id").values_list("id", flat=True))


def _prune(**kwargs):
    kwargs.setdefault("older_than", timezone.now() - DAY)
    kwargs.setdefault("batch_size", 1000)
    kwargs.setdefault("max_rows", 100_000)
    return event_log_prune(**kwargs)


@pytest.mark.django_db
def test_old_events_go_and_young_ones_stay():
    old = [_event(age=OLD) for _ in range(3)]
    young = [_event(age=timedelta(hours=23)) for _ in range(2)] + [_event()]
    _published_upto(young[-1].id)

    pruned = _prune()

    assert pruned.deleted == 3 and pruned.table == "hub_event"
    assert _ids() == [e.id for e in young]
    assert event_pruned_upto() == old[-1].id


@pytest.mark.django_db
def test_the_newest_event_stays_even_when_old():
    events = [_event(age=OLD) for _ in range(5)]
    _published_upto(events[-1].id)
    settled = event_settled_id()

    assert _prune().deleted == 4

    assert _ids() == [events[-1].id]
    # The log still knows how far it reached (on SQLite, that is its max(id)).
    assert event_settled_id() == settled == events[-1].id


@pytest.mark.django_db(transaction=True)
def test_each_batch_is_its_own_transaction_and_no_batch_exceeds_the_size():
    events = [_event(age=OLD) for _ in range(35)] + [_event()]
    _published_upto(events[-1].id)
    seen: list[tuple[int, int, bool]] = []

    def progress(pruned) -> None:
        # Called once a batch has committed: the rows it deleted are gone for everyone.
        seen.append((pruned.batches[-1], _committed_count(), connection.in_atomic_block))

    pruned = _prune(batch_size=10, progress=progress)

    assert pruned.batches == [10, 10, 10, 5] and pruned.deleted == 35 and not pruned.capped
    assert seen == [(10, 26, False), (10, 16, False), (10, 6, False), (5, 1, False)]
    assert _ids() == [events[-1].id]


def _committed_count() -> int:
    """The rows of hub_event another connection sees (on SQLite, this one's in-memory base)."""
    if connection.vendor != "postgresql":
        return Event.objects.count()
    from hub.consumers.relay import database_conninfo

    with psycopg.connect(database_conninfo(), autocommit=True) as other:
        return other.execute("SELECT count(*) FROM hub_event").fetchone()[0]


@pytest.mark.django_db
def test_a_run_stops_at_its_cap_and_the_next_one_goes_on():
    events = [_event(age=OLD) for _ in range(35)] + [_event()]
    _published_upto(events[-1].id)

    first = _prune(batch_size=10, max_rows=25)
    assert first.batches == [10, 10, 5] and first.capped
    assert _ids() == [e.id for e in events[25:]]

    second = _prune(batch_size=10, max_rows=25)
    assert second.batches == [10] and not second.capped
    assert _ids() == [events[-1].id]


@pytest.mark.django_db
def test_a_dry_run_counts_and_deletes_nothing():
    events = [_event(age=OLD) for _ in range(7)] + [_event()]
    _published_upto(events[-1].id)

    pruned = _prune(dry_run=True, max_rows=5)

    assert (pruned.deleted, pruned.capped, pruned.batches, pruned.dry_run) == (5, True, [], True)
    assert len(_ids()) == 8 and event_pruned_upto() == 0


@pytest.mark.django_db
def test_a_client_that_missed_pruned_events_is_told_to_refetch(acme, alice, charlie):
    old = _event(age=OLD, company_id=acme.id)
    seen = _event(age=timedelta(hours=1), company_id=acme.id)
    _event(company_id=acme.id)
    _published_upto(Event.objects.latest("id").id)
    viewer = viewer_for_user(user=alice)
    assert event_replay_incomplete(viewer=viewer, after=old.id - 1)  # the window alone says so

    assert _prune().deleted == 1

    # The event is gone, so only the mark can still say that something was missed.
    assert event_replay_incomplete(viewer=viewer, after=old.id - 1)
    assert not event_replay_incomplete(viewer=viewer, after=old.id)
    assert not event_replay_incomplete(viewer=viewer, after=seen.id)
    # An outsider from before the mark refetches too: whom a deleted event was for is unknown.
    assert event_replay_incomplete(viewer=viewer_for_user(user=charlie), after=old.id - 1)


@pytest.mark.django_db
def test_the_mark_is_never_lowered():
    later = [_event(age=OLD) for _ in range(3)]
    newest = _event()
    _published_upto(newest.id)
    Event.objects.filter(pk=later[0].pk).update(created_at=timezone.now())  # young for now
    _prune()
    assert event_pruned_upto() == later[-1].id

    Event.objects.filter(pk=later[0].pk).update(created_at=timezone.now() - OLD)
    assert _prune().deleted == 1

    assert event_pruned_upto() == later[-1].id


# --- PostgreSQL: the relay's cursor, and locks -------------------------------------------------


def test_events_the_relay_has_not_published_stay(postgres_only):
    events = [_event(age=OLD) for _ in range(10)]
    _published_upto(events[4].id)

    assert _prune().deleted == 5

    assert _ids() == [e.id for e in events[5:]]


def test_without_a_relay_cursor_no_event_goes(postgres_only):
    [_event(age=OLD) for _ in range(3)]
    RelayCursor.objects.filter(name=RELAY_CURSOR).delete()

    assert _prune().deleted == 0
    assert len(_ids()) == 3


@pytest.mark.django_db(transaction=True)
def test_writers_and_another_prune_do_not_wait_while_a_batch_is_open(postgres_only, conninfo):
    events = [_event(age=OLD) for _ in range(20)] + [_event()]
    _published_upto(events[-1].id)

    with transaction.atomic():
        # The batches' deletes, uncommitted: their locks are held until this block ends.
        assert _prune(batch_size=10).deleted == 20
        with psycopg.connect(conninfo, autocommit=True) as other:
            # Fails at once with LockNotAvailable if it has to wait for the prune.
            other.execute("SET lock_timeout = '200ms'")
            inserted = other.execute(
                "INSERT INTO hub_event (company_id, audience, user_id, topic, type, payload, "
                "created_at) VALUES (NULL, 'company', NULL, 'calls', 'call.updated', '{}', "
                "now() - interval '2 days') RETURNING id"
            ).fetchone()[0]
            # The relay's own bookkeeping, as it writes it after publishing.
            other.execute(
                "UPDATE hub_relay_cursor SET last_event_id = %s WHERE name = %s",
                [inserted, RELAY_CURSOR],
            )
        assert _prune_in_another_thread() == 0  # skips the rows held, waits for none

    assert _ids() == [events[-1].id, inserted]


def _prune_in_another_thread() -> int:
    result: list[int] = []

    def run() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '200ms'")
            result.append(_prune(batch_size=10).deleted)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=10)
    assert result, "the second prune failed or waited"
    return result[0]
