"""The batched drain and other writers: a batch never waits for one call (a held call holds up
no other), and a job applying one row never waits for a batch that holds that very row."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection, connections

from hub.domain.calls import callbacks
from hub.domain.calls.locks import CALL_SID_LOCK_CLASS as _CALL_SID_LOCK_CLASS
from hub.domain.calls.models import Call, CallStatus
from hub.domain.calls.reports import StatusReport
from hub.integrations.twilio import inbox
from hub.integrations.twilio.models import CallbackKind, TwilioCallback
from tests import factories
from tests.twilio.conftest import call_sid, status_params

pytestmark = pytest.mark.django_db(transaction=True)

# Long enough for an unblocked job on a quiet test database, far shorter than the hold.
PROMPT_SECONDS = 2.0


@pytest.fixture(autouse=True)
def _postgresql(db):
    if connection.vendor != "postgresql":
        pytest.skip("row and CallSid locks are PostgreSQL's (SQLite serializes transactions)")


@pytest.fixture
def lines(acme, bob, globex, charlie):
    """A number of Acme's (bob's) and one of Globex's (charlie's)."""
    factories.PhoneNumberFactory(company=acme, user=bob, phone_number="+14155559000")
    factories.PhoneNumberFactory(company=globex, user=charlie, phone_number="+14155559001")


def _store(params: dict) -> TwilioCallback:
    row = inbox.callback_store(
        kind=CallbackKind.STATUS,
        params=params,
        call_sid=params["CallSid"],
        sequence_number=int(params["SequenceNumber"]),
    )
    assert row is not None
    return row


@contextmanager
def _call_held_elsewhere(call: Call) -> Iterator[None]:
    """Another writer of calls_call (the CRM, a psql session) holds the call's row meanwhile."""
    from hub.consumers.relay import database_conninfo

    with psycopg.connect(database_conninfo()) as other:
        other.execute("SELECT id FROM calls_call WHERE id = %s FOR UPDATE", [call.id])
        try:
            yield
        finally:
            other.rollback()


class _InThread:
    """Run ``target`` in a thread of its own (its own database connection)."""

    def __init__(self, target) -> None:
        self.result: object = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(target,), daemon=True)
        self.thread.start()

    def _run(self, target) -> None:
        try:
            self.result = target()
        except BaseException as exc:
            self.error = exc
        finally:
            connections.close_all()

    def done_within(self, seconds: float) -> bool:
        self.thread.join(seconds)
        return not self.thread.is_alive()


def _stalled_batch(lines) -> tuple[Call, TwilioCallback, TwilioCallback]:
    """A known Acme call with a callback waiting, then a new Globex call's first callback."""
    held_sid = call_sid()
    inbox.callback_process(_store(status_params(held_sid, "ringing", 0)).pk)
    held = Call.objects.get(twilio_call_sid=held_sid)
    held_row = _store(status_params(held_sid, "completed", 1, CallDuration="5"))
    other_row = _store(status_params(call_sid(), "ringing", 0, To="+14155559001"))
    return held, held_row, other_row


def test_a_job_for_a_row_a_running_batch_holds_skips_it_at_once(lines, monkeypatch):
    # The sweeper enqueues a job for every row older than 5 s, so also for the rows of a batch
    # still running. The job must skip the row the batch holds (SKIP LOCKED), not wait for the
    # batch's CallSid lock: else each such job takes a worker thread for as long as the batch.
    _held, held_row, other_row = _stalled_batch(lines)
    started, release = threading.Event(), threading.Event()
    real = callbacks.HANDLERS[StatusReport]

    def slow(row, lookup):  # the batch's first row takes long (holding every row and lock)
        started.set()
        assert release.wait(30)
        return real(row, lookup)

    monkeypatch.setitem(callbacks.HANDLERS, StatusReport, slow)
    drain = _InThread(lambda: inbox.inbox_drain(limit=20))
    assert started.wait(30), "the drain never started applying its batch"
    job = _InThread(lambda: inbox.callback_process(other_row.pk))
    skipped_at_once = job.done_within(PROMPT_SECONDS)
    release.set()
    assert drain.done_within(30) and job.done_within(30)
    assert (drain.error, job.error) == (None, None)
    assert skipped_at_once, "the job waited for the batch holding its row"
    assert job.result is None  # the batch owned the row, and applied it
    assert drain.result.applied == 2
    for row in (held_row, other_row):
        row.refresh_from_db()
        assert row.processed_at is not None and row.attempts == 1


def test_a_call_held_elsewhere_holds_up_only_its_own_callbacks(lines):
    held, held_row, other_row = _stalled_batch(lines)
    with _call_held_elsewhere(held):
        drain = _InThread(lambda: inbox.inbox_drain(limit=20))
        assert drain.done_within(PROMPT_SECONDS), "the batch waited for a call another writer holds"
        assert drain.error is None
        assert drain.result.applied == 1
        assert drain.result.again == [(held_row.pk, callbacks.BUSY_DELAY_MS)]
        other_row.refresh_from_db()
        held_row.refresh_from_db()
        # Globex's callback did not wait for Acme's call; Acme's is left to a job of its own.
        assert other_row.processed_at is not None
        assert (held_row.processed_at, held_row.attempts) == (None, 1)
        assert "held by another transaction" in held_row.last_error
    assert inbox.callback_process(held_row.pk) == CallStatus.COMPLETED
    assert Call.objects.get(pk=held.pk).status == CallStatus.COMPLETED


def test_a_callsid_a_job_is_applying_is_left_to_it(lines):
    # A job applying one callback of a call holds its CallSid lock: the batch leaves that
    # call's rows alone instead of waiting, and applies the rest.
    held, held_row, other_row = _stalled_batch(lines)
    from hub.consumers.relay import database_conninfo

    with psycopg.connect(database_conninfo()) as other:
        other.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            [_CALL_SID_LOCK_CLASS, held.twilio_call_sid],
        )
        drain = _InThread(lambda: inbox.inbox_drain(limit=20))
        assert drain.done_within(PROMPT_SECONDS), "the batch waited for a CallSid lock"
        other.rollback()
    assert drain.error is None
    assert (drain.result.applied, drain.result.again) == (
        1,
        [(held_row.pk, callbacks.BUSY_DELAY_MS)],
    )
    other_row.refresh_from_db()
    assert other_row.processed_at is not None
    assert inbox.callback_process(held_row.pk) == CallStatus.COMPLETED


def test_a_callsid_held_for_a_moment_is_waited_for_and_applied_in_the_batch(lines):
    # Another batch or job holds a CallSid for milliseconds: the batch waits for it (callbacks
    # of one call apply in turn), instead of sending its rows off to be applied alone.
    held, held_row, _other_row = _stalled_batch(lines)
    from hub.consumers.relay import database_conninfo

    with psycopg.connect(database_conninfo()) as other:
        other.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            [_CALL_SID_LOCK_CLASS, held.twilio_call_sid],
        )
        drain = _InThread(lambda: inbox.inbox_drain(limit=20))
        # Let go as soon as the drain is seen waiting for the lock.
        waiting = False
        for _ in range(3000):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND classid = %s",
                    [_CALL_SID_LOCK_CLASS],
                )
                if cursor.fetchone()[0]:
                    waiting = True
                    break
            threading.Event().wait(0.001)
        other.rollback()
    assert waiting, "the drain never waited for the CallSid lock"
    assert drain.done_within(30) and drain.error is None
    assert (drain.result.applied, drain.result.again) == (2, [])
    held_row.refresh_from_db()
    assert held_row.processed_at is not None and held_row.attempts == 1
    assert Call.objects.get(pk=held.pk).status == CallStatus.COMPLETED
