"""Stored callbacks processed by a real Dramatiq worker: calls, matching, notifications, events."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hub.domain.calls.models import Call, CallDirection, CallRecording, CallStatus, VoicemailMessage
from hub.domain.calls.twilio_status import status_rank
from hub.domain.notifications.models import Notification
from hub.integrations.twilio import inbox
from hub.integrations.twilio.models import TwilioCallback
from hub.workers.twilio import twilio_callback_process
from tests import factories
from tests.eventlog import logged_events
from tests.twilio.conftest import ACCOUNT_SID, call_sid, post, status_params

pytestmark = pytest.mark.django_db(transaction=True)

STATUS = "/twilio/voice/status"


@pytest.fixture
def line(acme, alice, bob):
    """Acme's number +1 415 555 9000, owned by bob; a lead and a deal with the caller's phone."""
    number = factories.PhoneNumberFactory(company=acme, user=bob, phone_number="+14155559000")
    lead = factories.LeadFactory(company=acme, created_by=alice, phone="(415) 555-0100")
    deal = factories.DealFactory(company=acme, created_by=alice, contact_phone="+1 415 555 0100")
    return number, lead, deal


def _run(brokers) -> None:
    """Run a worker on the broker the webhooks enqueued to until its queue is empty."""
    broker = twilio_callback_process.broker
    with brokers.worker(broker):
        broker.join(twilio_callback_process.queue_name)


def _events(sid: str) -> list[str]:
    return [
        e.payload["status"]
        for e in logged_events().filter(topic="calls", payload__twilio_call_sid=sid).order_by("id")
    ]


def test_callbacks_create_and_move_the_call_with_one_event_per_change(client, brokers, line):
    number, lead, deal = line
    sid = call_sid()
    for seq, status in enumerate(["initiated", "ringing", "in-progress"]):
        extra = {"Timestamp": f"Wed, 01 May 2024 12:00:0{seq} +0000"}
        assert post(client, STATUS, status_params(sid, status, seq, **extra)).status_code == 204
    done = status_params(
        sid,
        "completed",
        3,
        CallDuration="65",
        Timestamp="Wed, 01 May 2024 12:01:07 +0000",
        Price="-0.0130",
        PriceUnit="USD",
    )
    assert post(client, STATUS, done).status_code == 204
    _run(brokers)
    call = Call.objects.get(twilio_call_sid=sid)
    assert (call.company_id, call.phone_number_id, call.user_id) == (
        number.company_id,
        number.id,
        number.user_id,
    )
    assert (call.lead_id, call.deal_id, call.direction) == (lead.id, deal.id, CallDirection.INBOUND)
    assert (call.status, call.duration, call.price) == (
        CallStatus.COMPLETED,
        65,
        Decimal("-0.0130"),
    )
    assert call.start_time.isoformat() == "2024-05-01T12:00:02+00:00"
    assert call.end_time.isoformat() == "2024-05-01T12:01:07+00:00"
    # Four worker threads may apply them in any order: events only ever move forward.
    events = _events(sid)
    assert events[-1] == "Completed"
    assert [status_rank(s) for s in events] == sorted({status_rank(s) for s in events})
    assert TwilioCallback.objects.filter(processed_at__isnull=True).count() == 0
    assert set(TwilioCallback.objects.values_list("attempts", flat=True)) == {1}


def test_a_number_no_company_owns_is_stored_and_marked_processed(client, brokers, acme):
    sid = call_sid()
    params = status_params(sid, "ringing", 0, To="+14155550001")
    assert post(client, STATUS, params).status_code == 204
    _run(brokers)
    row = TwilioCallback.objects.get()
    assert row.processed_at is not None and "no company owns +14155550001" in row.outcome
    assert not Call.objects.exists()


def test_an_unknown_status_is_kept_and_changes_nothing(client, brokers, line):
    sid = call_sid()
    post(client, STATUS, status_params(sid, "ringing", 0))
    post(client, STATUS, status_params(sid, "teleporting", 1))
    _run(brokers)
    assert Call.objects.get(twilio_call_sid=sid).status == CallStatus.RINGING
    row = TwilioCallback.objects.get(sequence_number=1)
    assert row.params["CallStatus"] == "teleporting" and "unknown status" in row.outcome


def test_missed_inbound_call_notifies_the_number_owner_once(client, brokers, line, bob, charlie):
    sid = call_sid()
    post(client, STATUS, status_params(sid, "ringing", 0))
    post(client, STATUS, status_params(sid, "no-answer", 1))
    # The dial result for the same call says the same thing: still one notification.
    dialed = {**status_params(sid, "in-progress", 2), "DialCallStatus": "no-answer"}
    post(client, "/twilio/voice/dialed", dialed)
    _run(brokers)
    notes = list(Notification.objects.all())
    assert [(n.user_id, n.title) for n in notes] == [(bob.id, "Missed call from +14155550100")]
    assert Call.objects.get(twilio_call_sid=sid).disposition == "NoAnswer"
    assert logged_events().filter(topic="notifications", user_id=bob.id).count() == 1
    assert not Notification.objects.filter(user=charlie).exists()


def test_a_former_member_hears_nothing_of_the_numbers_calls(client, brokers, line, bob):
    number, _, _ = line
    bob.memberships.update(is_active=False)
    missed = call_sid()
    post(client, STATUS, status_params(missed, "no-answer", 0))
    voicemail = call_sid()
    post(
        client,
        "/twilio/voice/voicemail",
        {
            "AccountSid": ACCOUNT_SID,
            "CallSid": voicemail,
            "From": "+14155550100",
            "To": number.phone_number,
            "RecordingUrl": "https://api.twilio.com/rec/RE9",
            "RecordingSid": "RE" + "9" * 32,
            "RecordingDuration": "14",
            "TranscriptionText": "Please call me back about the contract",
        },
    )
    _run(brokers)
    calls = Call.objects.filter(twilio_call_sid__in=[missed, voicemail])
    assert sorted(calls.values_list("user_id", flat=True), key=str) == [None, None]
    assert VoicemailMessage.objects.get().phone_number_id == number.id  # kept for the company
    assert not Notification.objects.exists()


def test_voicemail_notifies_the_owner_and_reaches_the_event_log(client, brokers, line, bob):
    number, _, _ = line
    sid = call_sid()
    base = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": sid,
        "From": "+14155550100",
        "To": number.phone_number,
        "Direction": "inbound",
    }
    post(client, "/twilio/voice/incoming", {**base, "CallStatus": "ringing"})
    voicemail = {
        **base,
        "CallStatus": "in-progress",
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1",
        "RecordingSid": "RE" + "1" * 32,
        "RecordingDuration": "14",
    }
    post(client, "/twilio/voice/voicemail", voicemail)
    post(client, "/twilio/voice/voicemail", voicemail)  # Twilio retried: stored once
    recording = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": sid,
        "RecordingSid": "RE" + "1" * 32,
        "RecordingUrl": voicemail["RecordingUrl"],
        "RecordingStatus": "completed",
        "RecordingDuration": "14",
    }
    post(client, "/twilio/voice/recording", recording)
    _run(brokers)
    vm = VoicemailMessage.objects.get()
    assert (vm.company_id, vm.phone_number_id, vm.from_number, vm.duration) == (
        number.company_id,
        number.id,
        "+14155550100",
        14,
    )
    note = Notification.objects.get(user=bob)
    assert note.title == "Voicemail from +14155550100"
    event = logged_events().get(topic="notifications", user_id=bob.id)
    assert event.type == "notification.created" and event.payload["id"] == str(note.id)
    call = Call.objects.get(twilio_call_sid=sid)
    assert (call.recording_url, call.recording_duration, call.disposition) == (
        voicemail["RecordingUrl"],
        14,
        "Voicemail",
    )
    assert CallRecording.objects.get().call_id == call.id


def test_a_recording_before_its_call_waits_for_it(brokers, line):
    sid = call_sid()
    rec = inbox.callback_store(
        kind="recording",
        params={
            "CallSid": sid,
            "RecordingSid": "RE" + "2" * 32,
            "RecordingUrl": "https://api.twilio.com/rec/RE2",
            "RecordingDuration": "9",
        },
        call_sid=sid,
        sequence_number=None,
    )
    with pytest.raises(inbox.NotYet):
        inbox.callback_process(rec.id)
    status = inbox.callback_store(
        kind="status", params=status_params(sid, "completed", 4), call_sid=sid, sequence_number=4
    )
    inbox.callback_process(status.id)
    assert inbox.callback_process(rec.id).startswith("recording ")
    rec.refresh_from_db()
    assert rec.attempts == 2 and rec.processed_at is not None and rec.last_error == ""
    assert Call.objects.get(twilio_call_sid=sid).recording_duration == 9


def test_outsider_numbers_stay_apart(client, brokers, line, globex, charlie):
    other = factories.PhoneNumberFactory(company=globex, user=charlie, phone_number="+14155559001")
    sid = call_sid()
    post(client, STATUS, status_params(sid, "busy", 0, To=other.phone_number))
    _run(brokers)
    call = Call.objects.get(twilio_call_sid=sid)
    # Acme's lead has the caller's phone, but the call is Globex's: no Acme rows attached.
    assert (call.company_id, call.lead_id, call.deal_id) == (globex.id, None, None)
    assert list(Notification.objects.values_list("user_id", flat=True)) == [charlie.id]


def test_a_call_made_elsewhere_notifies_the_number_owner(client, brokers, line, alice, bob):
    number, _, _ = line
    sid = call_sid()
    # The CRM created the call and gave it to alice; the number is bob's.
    factories.CallFactory(
        company=number.company,
        phone_number=number,
        user=alice,
        twilio_call_sid=sid,
        to_number=number.phone_number,
    )
    post(client, STATUS, status_params(sid, "busy", 2))
    _run(brokers)
    assert list(Notification.objects.values_list("user_id", flat=True)) == [bob.id]
    assert Call.objects.get(twilio_call_sid=sid).disposition == "Busy"


def test_a_number_two_companies_hold_is_stored_unmatched(brokers, line, globex, charlie):
    number, _, _ = line
    # A row from before the rule: Globex holds Acme's number actively too.
    factories.PhoneNumberFactory(company=globex, user=charlie, phone_number=number.phone_number)
    sid = call_sid()
    row = inbox.callback_store(
        kind="status", params=status_params(sid, "no-answer", 0), call_sid=sid, sequence_number=0
    )

    inbox.callback_process(row.id)

    row.refresh_from_db()
    assert row.processed_at is not None and "no company owns +14155559000" in row.outcome
    assert not Call.objects.exists() and not VoicemailMessage.objects.exists()
    assert not Notification.objects.exists()
