"""Stored callbacks applied in batches: one doorbell for a burst, one transaction per batch, and a
bad callback holds up no other."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, connections

from hub.domain.calls import callbacks
from hub.domain.calls.models import Call, CallRecording, CallStatus
from hub.domain.calls.reports import StatusReport
from hub.integrations.twilio import inbox
from hub.integrations.twilio.drain import DOORBELL_TTL_SECONDS, doorbell_key
from hub.integrations.twilio.models import CallbackKind, TwilioCallback
from hub.workers import twilio as actors
from tests import factories
from tests.twilio.conftest import call_sid, post, status_params

STATUS = "/twilio/voice/status"
LIFECYCLE = ["initiated", "ringing", "in-progress", "completed"]


@pytest.fixture
def number(acme, bob):
    return factories.PhoneNumberFactory(company=acme, user=bob, phone_number="+14155559000")


def _store(params: dict, kind: str = CallbackKind.STATUS) -> TwilioCallback:
    sequence = params.get("SequenceNumber")
    row = inbox.callback_store(
        kind=kind,
        params=params,
        call_sid=params["CallSid"],
        sequence_number=int(sequence) if sequence is not None else None,
    )
    assert row is not None
    return row


def _lifecycle(sid: str) -> list[dict]:
    done = {"CallDuration": "42", "Timestamp": "Wed, 01 May 2024 12:01:00 +0000"}
    return [
        status_params(sid, status, seq, **(done if status == "completed" else {}))
        for seq, status in enumerate(LIFECYCLE)
    ]


def _recording(sid: str) -> dict:
    return {
        "CallSid": sid,
        "RecordingSid": "RE" + "7" * 32,
        "RecordingUrl": "https://api.twilio.com/rec/RE7",
        "RecordingDuration": "11",
    }


def _queued(broker, queue: str) -> int:
    """Messages waiting in a Redis broker's queue."""
    return broker.client.hlen(f"{broker.namespace}:{queue}.msgs")


@pytest.mark.django_db
def test_a_batch_applies_every_row_in_one_transaction(number, django_assert_max_num_queries):
    sids = [call_sid() for _ in range(3)]
    for params in [p for sid in sids for p in _lifecycle(sid)]:
        _store(params)
    drained = inbox.inbox_drain(limit=50)
    assert (drained.claimed, drained.applied, drained.again) == (12, 12, [])
    rows = list(TwilioCallback.objects.all())
    # One transaction: every row of the batch has the same processed_at.
    assert {r.processed_at for r in rows} == {rows[0].processed_at}
    assert {(r.attempts, r.last_error) for r in rows} == {(1, "")}
    for sid in sids:
        call = Call.objects.get(twilio_call_sid=sid)
        assert (call.status, call.duration, call.user_id) == (
            CallStatus.COMPLETED,
            42,
            number.user_id,
        )
    # Nothing left: the next drain claims nothing (its transaction and one read).
    with django_assert_max_num_queries(3):
        assert inbox.inbox_drain(limit=50).claimed == 0


@pytest.mark.django_db
def test_a_batch_takes_at_most_its_size_oldest_first(number):
    rows = [_store(p) for p in _lifecycle(call_sid()) + _lifecycle(call_sid())]
    assert inbox.inbox_drain(limit=3).claimed == 3
    done = set(
        TwilioCallback.objects.filter(processed_at__isnull=False).values_list("pk", flat=True)
    )
    assert done == {r.pk for r in rows[:3]}
    assert inbox.inbox_drain(limit=10).claimed == 5
    assert not TwilioCallback.objects.filter(processed_at__isnull=True).exists()


@pytest.mark.django_db
def test_a_recording_stored_before_its_call_is_applied_in_the_same_batch(number):
    sid = call_sid()
    rec = _store(_recording(sid), kind=CallbackKind.RECORDING)
    _store(status_params(sid, "completed", 3, CallDuration="30"))
    drained = inbox.inbox_drain(limit=10)
    assert (drained.applied, drained.again) == (2, [])
    rec.refresh_from_db()
    assert rec.outcome.startswith("recording ") and rec.attempts == 1
    assert Call.objects.get(twilio_call_sid=sid).recording_duration == 11


@pytest.mark.django_db
def test_a_recording_whose_call_is_not_known_waits_and_is_applied_alone_later(number):
    sid = call_sid()
    rec = _store(_recording(sid), kind=CallbackKind.RECORDING)
    drained = inbox.inbox_drain(limit=10)
    assert (drained.claimed, drained.applied, drained.again) == (1, 0, [(rec.pk, 1000)])
    rec.refresh_from_db()
    assert (rec.processed_at, rec.attempts) == (None, 1)
    assert "not known yet" in rec.last_error
    # Tried once: no later drain takes it again (its retry is the per-row job's).
    _store(status_params(sid, "completed", 3))
    assert inbox.inbox_drain(limit=10).claimed == 1
    assert inbox.callback_process(rec.pk).startswith("recording ")
    assert CallRecording.objects.get().call.twilio_call_sid == sid


@pytest.mark.django_db
def test_one_bad_callback_rolls_back_its_batch_and_holds_up_no_other(number, monkeypatch):
    good, bad = call_sid(), call_sid()
    for params in [*_lifecycle(good)[:2], status_params(bad, "ringing", 0), *_lifecycle(good)[2:]]:
        _store(params)
    real = callbacks.HANDLERS[StatusReport]

    def broken_for_bad(row, lookup):
        outcome = real(row, lookup)  # the call is written, then...
        if row.call_sid == bad:
            raise RuntimeError("a bug in one callback")
        return outcome

    monkeypatch.setitem(callbacks.HANDLERS, StatusReport, broken_for_bad)
    drained = inbox.inbox_drain(limit=10)
    failed = TwilioCallback.objects.get(call_sid=bad)
    assert (drained.claimed, drained.applied, drained.again) == (5, 4, [(failed.pk, 500)])
    assert Call.objects.get(twilio_call_sid=good).status == CallStatus.COMPLETED
    # The bad row's effects rolled back; it keeps its error and one attempt, for its retry.
    assert not Call.objects.filter(twilio_call_sid=bad).exists()
    assert (failed.processed_at, failed.attempts) == (None, 1)
    assert "a bug in one callback" in failed.last_error

    monkeypatch.setitem(callbacks.HANDLERS, StatusReport, real)
    assert inbox.callback_process(failed.pk) == CallStatus.RINGING
    failed.refresh_from_db()
    assert (failed.attempts, failed.last_error) == (2, "")
    assert Call.objects.get(twilio_call_sid=bad).status == CallStatus.RINGING


@pytest.mark.django_db(transaction=True)
def test_drains_running_at_once_apply_each_callback_once(number):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers: one drain at a time")
    sids = [call_sid() for _ in range(12)]
    sent = [p for sid in sids for p in _lifecycle(sid)]
    random.Random(7).shuffle(sent)
    for params in sent:
        _store(params)
    errors: list[BaseException] = []

    def drain() -> None:
        # As the worker does: what a batch leaves (its call was busy in another batch) is
        # applied alone.
        try:
            while True:
                drained = inbox.inbox_drain(limit=5)
                for callback_id, _delay in drained.again:
                    inbox.callback_process(callback_id)
                if not drained.claimed:
                    break
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and not any(t.is_alive() for t in threads)
    rows = list(TwilioCallback.objects.all())
    assert all(r.processed_at is not None and r.last_error == "" for r in rows)
    # Once each: by a batch, or alone after a batch found its call busy in another one.
    assert {r.attempts for r in rows} <= {1, 2}
    # Batches took them in turns, sharing calls between them: still one call per sid, completed.
    assert Counter(Call.objects.values_list("status", flat=True)) == {CallStatus.COMPLETED: 12}
    assert len({r.processed_at for r in rows}) > 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
def test_a_burst_rings_the_doorbell_once_and_nothing_is_lost(client, brokers, number, settings):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL)")
    settings.HUB_TWILIO_BATCH_SIZE = 7
    broker = brokers.redis()
    sids = [call_sid() for _ in range(10)]
    for params in [p for sid in sids for p in _lifecycle(sid)]:
        assert post(client, STATUS, params).status_code == 204
    # Forty callbacks stored, one drain on its way.
    assert _queued(broker, "twilio") == 1
    with brokers.worker(broker):
        broker.join("twilio", timeout=30_000)
    rows = list(TwilioCallback.objects.all())
    assert len(rows) == 40 and all(r.processed_at is not None for r in rows)
    # Applied once each: by a batch, or alone when its call was busy in a batch running at once.
    assert {r.attempts for r in rows} <= {1, 2} and {r.last_error for r in rows} == {""}
    batches = Counter(r.processed_at for r in rows)
    assert max(batches.values()) <= 7 and len(batches) >= 6
    assert Counter(Call.objects.values_list("status", flat=True)) == {CallStatus.COMPLETED: 10}
    # The drain cleared the doorbell: the next callback rings it again.
    assert not broker.client.exists(doorbell_key(broker))
    post(client, STATUS, status_params(call_sid(), "ringing", 0))
    assert _queued(broker, "twilio") == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
def test_a_doorbell_whose_drain_was_lost_delays_but_loses_nothing(client, brokers, number):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL)")
    broker = brokers.redis()
    # A drain was announced, then lost with its worker: the flag says one is on its way.
    broker.client.set(doorbell_key(broker), "1", ex=DOORBELL_TTL_SECONDS)
    sid = call_sid()
    assert post(client, STATUS, status_params(sid, "ringing", 0)).status_code == 204
    assert _queued(broker, "twilio") == 0
    # The flag expires on its own; meanwhile the sweeper finds the row.
    assert broker.client.ttl(doorbell_key(broker)) <= DOORBELL_TTL_SECONDS
    with brokers.worker(broker):
        assert (
            inbox.inbox_sweep(enqueue=actors.twilio_callback_process.send, min_age=timedelta(0))
            == 1
        )
        broker.join("twilio", timeout=30_000)
    assert Call.objects.get(twilio_call_sid=sid).status == CallStatus.RINGING
    assert TwilioCallback.objects.get().attempts == 1
