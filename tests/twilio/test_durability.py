"""Nothing lost, nothing doubled: broker outages, crashes mid-job, any order of callbacks."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from hub.domain.calls import callbacks
from hub.domain.calls.inbound import _call_notification_id
from hub.domain.calls.models import Call, CallStatus
from hub.domain.notifications.models import Notification
from hub.integrations.twilio import inbox
from hub.integrations.twilio.models import TwilioCallback
from hub.workers.twilio import twilio_callback_process, twilio_inbox_sweep
from tests import factories
from tests.eventlog import logged_events
from tests.twilio.conftest import call_sid, post, status_params

STATUS = "/twilio/voice/status"

# One call's callbacks as Twilio sends them (SequenceNumber 0..3), timing on those that carry it.
LIFECYCLE = [
    ("initiated", {"Timestamp": "Wed, 01 May 2024 12:00:00 +0000"}),
    ("ringing", {"Timestamp": "Wed, 01 May 2024 12:00:01 +0000"}),
    ("in-progress", {"Timestamp": "Wed, 01 May 2024 12:00:04 +0000"}),
    (
        "completed",
        {"Timestamp": "Wed, 01 May 2024 12:01:04 +0000", "CallDuration": "60", "Price": "-0.02"},
    ),
]


def _callbacks(sid: str, lifecycle=LIFECYCLE) -> list[dict]:
    return [status_params(sid, s, seq, **extra) for seq, (s, extra) in enumerate(lifecycle)]


def _row(sid: str) -> tuple:
    call = Call.objects.get(twilio_call_sid=sid)
    return (
        call.status,
        call.duration,
        call.start_time,
        call.end_time,
        call.price,
        call.disposition,
        call.company_id,
        call.user_id,
    )


def _store_and_process(params: dict) -> None:
    row = inbox.callback_store(
        kind="status",
        params=params,
        call_sid=params["CallSid"],
        sequence_number=int(params["SequenceNumber"]),
    )
    if row is not None:
        inbox.callback_process(row.id)


def _status_events(sid: str) -> list[str]:
    return list(
        logged_events()
        .filter(topic="calls", payload__twilio_call_sid=sid)
        .order_by("id")
        .values_list("payload__status", flat=True)
    )


@pytest.fixture
def number(acme, bob):
    return factories.PhoneNumberFactory(company=acme, user=bob, phone_number="+14155559000")


_LIFECYCLES = st.sampled_from(
    [
        LIFECYCLE,
        [("ringing", {}), ("no-answer", {"Timestamp": "Wed, 01 May 2024 12:00:30 +0000"})],
        [("initiated", {}), ("ringing", {}), ("busy", {"CallDuration": "0"})],
        [("queued", {}), ("initiated", {}), ("failed", {})],
        [("ringing", {}), ("in-progress", {}), ("canceled", {})],
    ]
)


@pytest.mark.django_db
@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lifecycle=_LIFECYCLES, data=st.data())
def test_shuffled_and_duplicated_callbacks_converge_to_the_same_row(number, lifecycle, data):
    reference = call_sid()
    for params in _callbacks(reference, lifecycle):
        _store_and_process(params)
    expected = _row(reference)

    sid = call_sid()
    callbacks = _callbacks(sid, lifecycle)
    repeats = data.draw(
        st.lists(st.sampled_from(callbacks), max_size=2 * len(callbacks)), label="duplicates"
    )
    arrival = data.draw(st.permutations(callbacks + repeats), label="arrival order")
    for params in arrival:
        _store_and_process(params)

    assert _row(sid) == expected
    assert TwilioCallback.objects.filter(call_sid=sid).count() == len(callbacks)
    assert not TwilioCallback.objects.filter(call_sid=sid, processed_at__isnull=True).exists()
    # One event per change, and only forward changes.
    events = _status_events(sid)
    assert events[-1] == expected[0]
    assert len(events) == len(set(events))
    missed = expected[0] in (CallStatus.NO_ANSWER, CallStatus.BUSY)
    notified = Notification.objects.filter(related_object_id=_call_notification_id(sid))
    assert notified.count() == int(missed)


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
def test_broker_down_then_back_every_callback_processed_exactly_once(client, brokers, number):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL)")
    sids = [call_sid() for _ in range(5)]
    sent = [params for sid in sids for params in _callbacks(sid)]
    random.Random(4).shuffle(sent)

    def enqueue_failures() -> float:
        labels = {"kind": "any", "result": "enqueue_failed"}
        return REGISTRY.get_sample_value("hub_twilio_callbacks_total", labels) or 0.0

    failures = enqueue_failures()
    brokers.down()
    for params in sent:
        # The broker does not answer, yet each callback is stored and answered 2xx.
        assert post(client, STATUS, params).status_code == 204
    assert enqueue_failures() - failures == len(sent)
    assert TwilioCallback.objects.filter(processed_at__isnull=True).count() == len(sent)
    assert not Call.objects.exists()

    broker = brokers.redis()
    with brokers.worker(broker):
        assert inbox.inbox_sweep(enqueue=twilio_callback_process.send, min_age=timedelta(0)) == 20
        # The periodic sweep running again meanwhile only enqueues no-ops.
        twilio_inbox_sweep.send()
        broker.join(twilio_callback_process.queue_name, timeout=30_000)

    assert TwilioCallback.objects.filter(processed_at__isnull=True).count() == 0
    assert set(TwilioCallback.objects.values_list("attempts", flat=True)) == {1}
    for sid in sids:
        assert _row(sid)[:2] == (CallStatus.COMPLETED, 60)
        assert _status_events(sid)[-1] == CallStatus.COMPLETED
        assert len(_status_events(sid)) == len(set(_status_events(sid)))
    assert Call.objects.count() == 5


@pytest.mark.django_db(transaction=True)
def test_a_crash_after_the_call_update_rolls_back_and_the_retry_applies_once(
    client, brokers, number, monkeypatch, bob
):
    sid = call_sid()
    post(client, STATUS, status_params(sid, "ringing", 0))
    row = TwilioCallback.objects.get()
    inbox.callback_process(row.id)
    post(client, STATUS, status_params(sid, "no-answer", 1))
    missed = TwilioCallback.objects.get(sequence_number=1)
    events_before = logged_events().count()

    real_notify = callbacks.call_missed_notify
    crashes = []

    def crash_once(**kwargs):
        real_notify(**kwargs)  # the notification and disposition are written, then...
        if not crashes:
            crashes.append(1)
            raise RuntimeError("worker killed mid-job")
        return True

    monkeypatch.setattr(callbacks, "call_missed_notify", crash_once)
    with pytest.raises(RuntimeError):
        inbox.callback_process(missed.id)
    # Everything the job did rolled back with it.
    assert Call.objects.get(twilio_call_sid=sid).status == CallStatus.RINGING
    assert logged_events().count() == events_before
    assert not Notification.objects.exists()
    missed.refresh_from_db()
    assert (missed.processed_at, missed.attempts) == (None, 1)
    assert "worker killed mid-job" in missed.last_error

    # The retry, through the worker this time (the sweeper finds the row).
    broker = twilio_callback_process.broker
    with brokers.worker(broker):
        inbox.inbox_sweep(enqueue=twilio_callback_process.send, min_age=timedelta(0))
        broker.join(twilio_callback_process.queue_name)
    missed.refresh_from_db()
    assert missed.processed_at is not None and missed.attempts == 2 and missed.last_error == ""
    assert Call.objects.get(twilio_call_sid=sid).status == CallStatus.NO_ANSWER
    assert Notification.objects.filter(user=bob).count() == 1
    assert _status_events(sid) == [CallStatus.RINGING, CallStatus.NO_ANSWER]
    assert logged_events().count() == events_before + 2  # call.updated + notification.created
