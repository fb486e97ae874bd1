"""Click-to-call from Twilio's side: the TwiML that connects the salesperson, and adoption of the
row ``call_place`` created before Twilio gave the call its sid."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from hub.domain.calls.models import Call, CallDirection, CallStatus
from hub.domain.calls.outbound import PENDING_SID_PREFIX
from hub.domain.calls.services import call_create
from hub.integrations.twilio import inbox
from hub.integrations.twilio.models import TwilioCallback
from tests import factories
from tests.twilio.conftest import ACCOUNT_SID, call_sid, post, status_params

pytestmark = pytest.mark.django_db

OUTBOUND = "/twilio/voice/outbound"
COMPANY_NUMBER = "+14155559000"
CUSTOMER = "+14155550123"


@pytest.fixture
def number(acme, alice):
    return factories.PhoneNumberFactory(company=acme, user=alice, phone_number=COMPANY_NUMBER)


def _placed(number, sid: str | None = None) -> Call:
    """A click-to-call row as ``call_place`` creates it, with Twilio's sid or still waiting."""
    return call_create(
        company=number.company,
        direction=CallDirection.OUTBOUND,
        from_number=COMPANY_NUMBER,
        to_number=CUSTOMER,
        twilio_call_sid=sid or f"{PENDING_SID_PREFIX}{call_sid()}",
        phone_number=number,
        user=number.user,
    )


def _fetch(sid: str, **extra) -> dict:
    """What Twilio posts when the person called answers."""
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": sid,
        "CallStatus": "in-progress",
        "Direction": "outbound-api",
        "From": COMPANY_NUMBER,
        "To": CUSTOMER,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def _phone(user, phone: str | None) -> None:
    user.phone = phone
    user.save(update_fields=["phone"])


def test_a_forged_or_unsigned_fetch_is_refused(client, number, alice):
    _phone(alice, "(415) 555-7777")
    sid = call_sid()
    _placed(number, sid)
    forged = RequestValidator("some-other-token").compute_signature(
        f"https://hub.example.test{OUTBOUND}", _fetch(sid)
    )
    for signature in (forged, None, "garbage"):
        response = post(client, OUTBOUND, _fetch(sid), signature=signature)
        assert response.status_code == 403
        assert b"<Dial" not in response.content
    other_account = {**_fetch(sid), "AccountSid": "AC" + "b2" * 16}
    assert post(client, OUTBOUND, other_account).status_code == 403
    assert client.get(OUTBOUND).status_code == 405


def test_a_known_call_dials_its_salesperson_from_the_company_number(client, number, alice):
    _phone(alice, "(415) 555-7777")
    sid = call_sid()
    _placed(number, sid)

    response = post(client, OUTBOUND, _fetch(sid))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    body = response.content.decode()
    assert f'callerId="{COMPANY_NUMBER}"' in body
    assert 'action="https://hub.example.test/twilio/voice/dialed"' in body
    assert "<Number>+14155557777</Number>" in body
    # A TwiML fetch reports nothing the status callbacks do not: the inbox stays empty.
    assert not TwilioCallback.objects.exists()


def test_a_salesperson_without_a_phone_gets_the_caller_a_polite_goodbye(client, number, alice):
    _phone(alice, None)
    sid = call_sid()
    _placed(number, sid)

    body = post(client, OUTBOUND, _fetch(sid)).content.decode()

    assert "<Say>" in body and "<Hangup />" in body and "<Dial" not in body


def test_an_unknown_call_gets_a_polite_goodbye(client, number, alice):
    _phone(alice, "(415) 555-7777")
    response = post(client, OUTBOUND, _fetch(call_sid()))
    body = response.content.decode()
    assert response.status_code == 200
    assert "<Say>" in body and "<Hangup />" in body and "<Dial" not in body


def test_a_fetch_before_the_sid_is_stored_adopts_the_waiting_row(client, number, alice):
    _phone(alice, "(415) 555-7777")
    waiting = _placed(number)
    sid = call_sid()

    body = post(client, OUTBOUND, _fetch(sid)).content.decode()

    assert "<Number>+14155557777</Number>" in body
    assert list(Call.objects.values_list("id", "twilio_call_sid")) == [(waiting.id, sid)]


def test_a_salesperson_who_does_not_answer_is_no_voicemail_for_the_customer(client, number):
    sid = call_sid()
    _placed(number, sid)
    dialed = {**_fetch(sid), "DialCallStatus": "no-answer"}

    body = post(client, "/twilio/voice/dialed", dialed).content.decode()

    assert "<Say>" in body and "<Hangup />" in body and "<Record" not in body


def test_a_status_callback_before_the_sid_is_stored_adopts_the_waiting_row(number):
    waiting = _placed(number)
    sid = call_sid()
    params = status_params(
        sid, "ringing", 1, Direction="outbound-api", From=COMPANY_NUMBER, To=CUSTOMER
    )
    row = inbox.callback_store(kind="status", params=params, call_sid=sid, sequence_number=1)

    inbox.callback_process(row.id)

    call = Call.objects.get()
    assert (call.id, call.twilio_call_sid, call.status) == (waiting.id, sid, CallStatus.RINGING)


def test_a_callback_for_other_numbers_leaves_the_waiting_row_alone(number):
    waiting = _placed(number)
    sid = call_sid()
    params = status_params(
        sid, "ringing", 1, Direction="outbound-api", From=COMPANY_NUMBER, To="+14155550999"
    )
    row = inbox.callback_store(kind="status", params=params, call_sid=sid, sequence_number=1)

    inbox.callback_process(row.id)

    waiting.refresh_from_db()
    assert waiting.twilio_call_sid.startswith(PENDING_SID_PREFIX)
    assert Call.objects.get(twilio_call_sid=sid).to_number == "+14155550999"


def _outbound_callback(sid: str) -> TwilioCallback:
    params = status_params(
        sid, "ringing", 1, Direction="outbound-api", From=COMPANY_NUMBER, To=CUSTOMER
    )
    return inbox.callback_store(kind="status", params=params, call_sid=sid, sequence_number=1)


def test_only_the_company_holding_the_number_has_its_waiting_row_adopted(number, globex, charlie):
    # Globex held the number before Acme: its row still waits, and is the newer one.
    theirs = factories.PhoneNumberFactory(
        company=globex, user=charlie, phone_number=COMPANY_NUMBER, is_active=False
    )
    ours = _placed(number)
    stale = _placed(theirs)
    sid = call_sid()

    inbox.callback_process(_outbound_callback(sid).id)

    assert Call.objects.get(twilio_call_sid=sid).id == ours.id
    stale.refresh_from_db()
    assert stale.twilio_call_sid.startswith(PENDING_SID_PREFIX)


def test_a_number_two_companies_hold_adopts_no_row_and_is_left_unmatched(number, globex, charlie):
    theirs = factories.PhoneNumberFactory(company=globex, user=charlie, phone_number=COMPANY_NUMBER)
    waiting = [_placed(number), _placed(theirs)]
    sid = call_sid()
    row = _outbound_callback(sid)

    inbox.callback_process(row.id)

    row.refresh_from_db()
    assert "no company owns" in row.outcome
    assert not Call.objects.filter(twilio_call_sid=sid).exists()
    for call in waiting:
        call.refresh_from_db()
        assert call.twilio_call_sid.startswith(PENDING_SID_PREFIX)
