"""The webhooks' front door: signature, account, shape, storing once, and the TwiML answers."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from twilio.request_validator import RequestValidator

from hub.integrations.twilio.models import CallbackKind, TwilioCallback
from tests import factories
from tests.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, call_sid, post, sign, status_params

pytestmark = pytest.mark.django_db

STATUS = "/twilio/voice/status"


def test_signed_callback_is_stored_before_the_answer(client):
    sid = call_sid()
    response = post(client, STATUS, status_params(sid, "ringing", 1))
    assert response.status_code == 204
    row = TwilioCallback.objects.get()
    assert (row.kind, row.call_sid, row.sequence_number) == (CallbackKind.STATUS, sid, 1)
    assert row.params["CallStatus"] == "ringing"
    assert row.processed_at is None and row.verified_at is not None and len(row.content_hash) == 64


@pytest.mark.parametrize(
    "signature",
    [
        None,  # unsigned
        "",
        "not-a-signature",
        RequestValidator("some-other-token").compute_signature(
            "https://hub.example.test/twilio/voice/status", {"CallSid": "CA1"}
        ),
    ],
    ids=["unsigned", "empty", "garbage", "other-token"],
)
def test_unsigned_or_forged_callbacks_are_refused_and_nothing_is_stored(client, signature):
    response = post(client, STATUS, status_params(call_sid(), "ringing", 1), signature=signature)
    assert response.status_code == 403
    assert not TwilioCallback.objects.exists()


def test_a_signature_over_other_params_or_another_url_is_refused(client):
    params = status_params(call_sid(), "completed", 3)
    tampered = {**params, "CallStatus": "ringing"}
    assert post(client, STATUS, tampered, signature=sign(STATUS, params)).status_code == 403
    # The request's own host is not trusted: only HUB_PUBLIC_URL counts.
    own_host = RequestValidator(AUTH_TOKEN).compute_signature(f"http://testserver{STATUS}", params)
    assert post(client, STATUS, params, signature=own_host).status_code == 403
    other_path = sign("/twilio/voice/recording", params)
    assert post(client, STATUS, params, signature=other_path).status_code == 403
    assert not TwilioCallback.objects.exists()


def test_the_query_string_is_part_of_the_signed_url(client):
    params = status_params(call_sid(), "ringing", 1)
    path = f"{STATUS}?tenant=acme"
    assert post(client, path, params, signature=sign(path, params)).status_code == 204
    assert post(client, path, params, signature=sign(STATUS, params)).status_code == 403
    assert TwilioCallback.objects.count() == 1


def test_a_callback_for_another_account_is_refused(client):
    for account in ("AC" + "b2" * 16, None):
        params = status_params(call_sid(), "ringing", 1)
        if account:
            params["AccountSid"] = account
        else:
            del params["AccountSid"]
        assert post(client, STATUS, params).status_code == 403
    assert not TwilioCallback.objects.exists()


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"CallSid": None}, STATUS),
        ({"CallSid": ""}, STATUS),
        ({"CallSid": "CA 1; drop"}, STATUS),
        ({"SequenceNumber": "abc"}, STATUS),
        ({"SequenceNumber": "-1"}, STATUS),
        ({"SequenceNumber": "1.5"}, STATUS),
        ({"SequenceNumber": "\u0661"}, STATUS),
        ({"SequenceNumber": "99999999999"}, STATUS),
        ({"CallStatus": None}, STATUS),
        ({"RecordingSid": None}, "/twilio/voice/recording"),
    ],
)
def test_malformed_signed_callbacks_are_400_and_nothing_is_stored(client, change, path):
    params = status_params(call_sid(), "ringing", 1, RecordingSid="RE" + "0" * 32)
    for key, value in change.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value
    response = post(client, path, params)
    assert response.status_code == 400, response.content
    assert not TwilioCallback.objects.exists()


@pytest.mark.parametrize("name", ["TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "HUB_PUBLIC_URL"])
def test_without_configuration_the_webhooks_answer_503(client, settings, name):
    params = status_params(call_sid(), "ringing", 1)
    signature = sign(STATUS, params)
    setattr(settings, name, None)
    response = post(client, STATUS, params, signature=signature)
    assert response.status_code == 503
    assert name.encode() in response.content
    assert not TwilioCallback.objects.exists()


def test_only_post(client):
    for path in (STATUS, "/twilio/voice/incoming", "/twilio/voice/voicemail"):
        assert client.get(path).status_code == 405


def test_duplicates_are_stored_once(client):
    sid = call_sid()
    params = status_params(sid, "ringing", 1)
    assert post(client, STATUS, params).status_code == 204
    assert post(client, STATUS, params).status_code == 204
    # Same CallSid + SequenceNumber with other content (a retry with a new timestamp).
    retry = {**params, "Timestamp": "Wed, 01 May 2024 12:00:05 +0000"}
    assert post(client, STATUS, retry).status_code == 204
    # Without a SequenceNumber, identical content is the duplicate.
    recording = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": sid,
        "RecordingSid": "RE" + "1" * 32,
        "RecordingUrl": "https://api.twilio.com/rec/RE1",
        "RecordingStatus": "completed",
        "RecordingDuration": "7",
    }
    assert post(client, "/twilio/voice/recording", recording).status_code == 204
    assert post(client, "/twilio/voice/recording", recording).status_code == 204
    assert TwilioCallback.objects.count() == 2


# --- TwiML -------------------------------------------------------------------------------------
def _incoming(sid: str, to: str) -> dict:
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": sid,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": "+14155550100",
        "To": to,
    }


def test_incoming_call_rings_the_owner_then_voicemail(client, acme, alice):
    alice.phone = "(415) 555-7777"
    alice.save(update_fields=["phone"])
    number = factories.PhoneNumberFactory(company=acme, user=alice)
    response = post(client, "/twilio/voice/incoming", _incoming(call_sid(), number.phone_number))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    body = response.content.decode()
    assert '<Dial action="https://hub.example.test/twilio/voice/dialed"' in body
    assert "<Number>+14155557777</Number>" in body
    assert TwilioCallback.objects.get().kind == CallbackKind.INCOMING

    dialed = {**_incoming(call_sid(), number.phone_number), "DialCallStatus": "no-answer"}
    body = post(client, "/twilio/voice/dialed", dialed).content.decode()
    assert 'action="https://hub.example.test/twilio/voice/voicemail"' in body
    assert 'recordingStatusCallback="https://hub.example.test/twilio/voice/recording"' in body
    assert "<Record " in body
    answered = {**dialed, "CallSid": call_sid(), "DialCallStatus": "completed"}
    body = post(client, "/twilio/voice/dialed", answered).content.decode()
    assert "<Hangup />" in body and "<Record" not in body


def test_an_owner_without_a_phone_gets_voicemail_straight_away(client, acme, alice):
    number = factories.PhoneNumberFactory(company=acme, user=alice)
    body = post(client, "/twilio/voice/incoming", _incoming(call_sid(), number.phone_number))
    body = body.content.decode()
    assert "<Dial" not in body and "<Record " in body


@pytest.mark.parametrize("left", ["membership deleted", "membership deactivated"])
def test_a_former_members_phone_is_not_rung(client, acme, alice, bob, left):
    bob.phone = "(415) 555-7777"
    bob.save(update_fields=["phone"])
    number = factories.PhoneNumberFactory(company=acme, user=bob)
    if left == "membership deleted":
        bob.memberships.all().delete()
    else:
        bob.memberships.update(is_active=False)
    body = post(client, "/twilio/voice/incoming", _incoming(call_sid(), number.phone_number))
    body = body.content.decode()
    assert "<Dial" not in body and "+14155557777" not in body and "<Record " in body


def test_an_unknown_number_gets_a_polite_hangup(client, acme):
    response = post(client, "/twilio/voice/incoming", _incoming(call_sid(), "+14155550000"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "not in service" in body and "<Hangup />" in body and "<Dial" not in body


def test_voicemail_action_thanks_and_hangs_up(client):
    params = {
        **_incoming(call_sid(), "+14155559000"),
        "RecordingUrl": "https://api.twilio.com/rec/RE9",
        "RecordingSid": "RE" + "9" * 32,
        "RecordingDuration": "12",
    }
    body = post(client, "/twilio/voice/voicemail", params).content.decode()
    assert "Thank you" in body and "<Hangup />" in body
    assert TwilioCallback.objects.get().kind == CallbackKind.VOICEMAIL


# --- the lean path: no session, CSRF or auth middleware, still the request id and security ------
def _post_async(path: str, params: dict, headers: dict):
    """POST through Django's ASGI handler, as daphne serves the webhooks."""
    return async_to_sync(AsyncClient().post)(path, params, headers=headers)


@pytest.mark.django_db(transaction=True)  # the view's thread has a database connection of its own
def test_served_async_the_answer_keeps_request_id_and_security_headers():
    params = status_params(call_sid(), "ringing", 1)
    headers = {"X-Twilio-Signature": sign(STATUS, params), "X-Request-ID": "twilio-req-1"}

    response = _post_async(STATUS, params, headers)

    assert response.status_code == 204
    assert response["X-Request-ID"] == "twilio-req-1"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Length"] == "0"
    assert "Set-Cookie" not in response and "Vary" not in response
    assert TwilioCallback.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_served_async_a_forged_callback_is_still_refused():
    params = status_params(call_sid(), "ringing", 1)
    response = _post_async(STATUS, params, {"X-Twilio-Signature": "forged"})
    assert response.status_code == 403
    assert not TwilioCallback.objects.exists()
