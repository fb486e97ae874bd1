"""The call board's Call button: click-to-call through the real Twilio client and the fake API."""

from __future__ import annotations

import pytest

from hub.domain.calls.models import Call, CallStatus
from hub.domain.calls.services import phone_number_add

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice_number(acme, staff_alice):
    return phone_number_add(
        company=acme,
        user=staff_alice,
        phone_number="+14155550100",
        twilio_phone_sid="PN" + "b" * 32,
        is_default=True,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_button_places_the_call_and_the_board_shows_it(
    alice_client, acme, alice_number, fake_twilio, twilio_settings
):
    response = alice_client.post(
        "/console/calls/dial/", {"to_number": "(415) 555-0123"}, follow=True
    )

    call = Call.objects.get(company=acme, to_number="+14155550123")
    assert call.twilio_call_sid in fake_twilio.calls
    assert call.status == CallStatus.INITIATED
    assert messages_of(response) == [f"Calling +14155550123 from +14155550100 (call #{call.id})."]
    assert f'data-call-id="{call.id}"' in response.content.decode()


def test_a_twilio_refusal_is_said_in_words_and_the_call_is_failed(
    alice_client, acme, alice_number, fake_twilio, twilio_settings
):
    fake_twilio.errors["+14155550199"] = (400, 21215, "Geo permission not enabled for this number")

    response = alice_client.post(
        "/console/calls/dial/", {"to_number": "+1 415 555 0199"}, follow=True
    )

    [message] = messages_of(response)
    assert message.startswith("Twilio refused the call to +14155550199")
    assert "Geo permission" in message
    assert Call.objects.get(to_number="+14155550199").status == CallStatus.FAILED


def test_without_a_default_number_nothing_is_placed(
    alice_client, acme, fake_twilio, twilio_settings
):
    response = alice_client.post("/console/calls/dial/", {"to_number": "+14155550123"}, follow=True)

    [message] = messages_of(response)
    assert "no default phone number" in message
    assert not Call.objects.exists()
    assert fake_twilio.requests == []


def test_a_number_of_another_company_cannot_be_chosen(
    alice_client, acme, globex, alice_number, fake_twilio, twilio_settings
):
    alice_client.post(
        "/console/calls/dial/", {"to_number": "+14155550123", "company": globex.id}, follow=True
    )

    assert list(Call.objects.values_list("company_id", flat=True)) == [acme.id]


def test_only_staff_may_dial_and_only_by_post(client, alice, alice_client):
    assert alice_client.get("/console/calls/dial/").status_code == 405
    client.logout()
    response = client.post("/console/calls/dial/", {"to_number": "+14155550123"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
