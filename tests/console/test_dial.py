"""The call board's Call button: click-to-call through the real Twilio client and the fake API."""

from __future__ import annotations

import pytest

from hub.domain.authentication.models import CompanyUser
from hub.domain.authentication.services import company_user_add
from hub.domain.calls.models import Call, CallStatus
from hub.domain.calls.services import phone_number_add
from tests import factories

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


def assert_nothing_placed(fake_twilio) -> None:
    assert not Call.objects.exists()
    assert fake_twilio.requests == []


@pytest.fixture
def alice_at_globex(globex, staff_alice):
    """Alice is also a member of Globex, with a default number there as well as at Acme."""
    company_user_add(company=globex, user=staff_alice, role="sales_manager")
    # The factory, not phone_number_add: that one leaves a user a single default number.
    return factories.PhoneNumberFactory(
        company=globex, user=staff_alice, phone_number="+16175550100", is_default=True
    )


def test_another_tenants_company_is_refused_not_swapped_for_her_own(
    alice_client, acme, globex, alice_number, fake_twilio, twilio_settings
):
    response = alice_client.post(
        "/console/calls/dial/", {"to_number": "+14155550123", "company": globex.id}, follow=True
    )

    assert response.redirect_chain == [("/console/calls/", 302)]
    assert messages_of(response) == [
        "You cannot call from that company: it is not one of your active companies."
    ]
    assert_nothing_placed(fake_twilio)


def test_an_outsider_cannot_call_from_acme(
    client, acme, staff_charlie, alice_number, fake_twilio, twilio_settings
):
    client.force_login(staff_charlie)

    response = client.post(
        "/console/calls/dial/", {"to_number": "+14155550123", "company": acme.id}, follow=True
    )

    [message] = messages_of(response)
    assert message.startswith("You cannot call from that company")
    assert_nothing_placed(fake_twilio)


@pytest.mark.parametrize(
    "posted", ["acme", "1.0", "-1", "0x1", "\u0661", "99999999999999999999", "1 OR 1=1"]
)
def test_a_company_that_is_not_an_id_is_refused_cleanly(
    alice_client, acme, alice_number, fake_twilio, twilio_settings, posted
):
    response = alice_client.post(
        "/console/calls/dial/", {"to_number": "+14155550123", "company": posted}, follow=True
    )

    assert response.redirect_chain == [("/console/calls/", 302)]
    [message] = messages_of(response)
    assert message.startswith("You cannot call from that company")
    assert_nothing_placed(fake_twilio)


def test_a_blank_company_asks_to_choose_rather_than_defaulting(
    alice_client, acme, alice_number, fake_twilio, twilio_settings
):
    response = alice_client.post(
        "/console/calls/dial/", {"to_number": "+14155550123", "company": ""}, follow=True
    )

    assert messages_of(response) == ["Choose the company to call from."]
    assert_nothing_placed(fake_twilio)


def test_with_several_companies_and_none_posted_she_is_asked_to_choose(
    alice_client, acme, globex, alice_number, alice_at_globex, fake_twilio, twilio_settings
):
    response = alice_client.post("/console/calls/dial/", {"to_number": "+14155550123"}, follow=True)

    assert messages_of(response) == [
        "You are a member of several companies: choose the company to call from."
    ]
    assert_nothing_placed(fake_twilio)


def test_with_several_companies_the_one_posted_places_the_call(
    alice_client, acme, globex, alice_number, alice_at_globex, fake_twilio, twilio_settings
):
    response = alice_client.post(
        "/console/calls/dial/", {"to_number": "+14155550123", "company": globex.id}, follow=True
    )

    call = Call.objects.get()
    assert (call.company, call.from_number) == (globex, "+16175550100")
    assert messages_of(response) == [f"Calling +14155550123 from +16175550100 (call #{call.id})."]
    assert [form["From"] for _, _, form in fake_twilio.requests] == ["+16175550100"]


def test_an_inactive_membership_cannot_call_from_its_company(
    alice_client, acme, staff_alice, alice_number, fake_twilio, twilio_settings
):
    CompanyUser.objects.filter(company=acme, user=staff_alice).update(is_active=False)

    unchosen = alice_client.post("/console/calls/dial/", {"to_number": "+14155550123"}, follow=True)
    chosen = alice_client.post(
        "/console/calls/dial/", {"to_number": "+14155550123", "company": acme.id}, follow=True
    )

    assert messages_of(unchosen) == ["You are not an active member of any company."]
    assert messages_of(chosen) == [
        "You cannot call from that company: it is not one of your active companies."
    ]
    assert_nothing_placed(fake_twilio)


def test_only_staff_may_dial_and_only_by_post(client, alice, alice_client):
    assert alice_client.get("/console/calls/dial/").status_code == 405
    client.logout()
    response = client.post("/console/calls/dial/", {"to_number": "+14155550123"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_superuser_sees_every_company_but_calls_only_from_their_own(
    client, acme, globex, alice_number, fake_twilio, twilio_settings
):
    """Seeing every company's calls does not widen who may place them."""
    admin = factories.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)

    board = client.get("/console/calls/")
    assert board.context["dial_companies"] == []
    assert "you are a member of none" in board.content.decode()

    unchosen = client.post("/console/calls/dial/", {"to_number": "+14155550123"}, follow=True)
    chosen = client.post(
        "/console/calls/dial/", {"to_number": "+14155550123", "company": acme.id}, follow=True
    )

    assert messages_of(unchosen) == ["You are not an active member of any company."]
    assert messages_of(chosen) == [
        "You cannot call from that company: it is not one of your active companies."
    ]
    assert_nothing_placed(fake_twilio)


def test_a_superuser_who_is_a_member_is_offered_only_that_company(
    client, acme, globex, fake_twilio, twilio_settings
):
    admin = factories.UserFactory(is_staff=True, is_superuser=True)
    company_user_add(company=globex, user=admin, role="ceo")
    client.force_login(admin)

    assert client.get("/console/calls/").context["dial_companies"] == [globex]


def test_the_board_comes_back_with_the_company_filter_it_was_posted_from(
    alice_client, acme, globex, alice_number, alice_at_globex, fake_twilio, twilio_settings
):
    response = alice_client.post(
        "/console/calls/dial/",
        {"to_number": "+14155550123", "company": acme.id, "board_company": str(acme.id)},
        follow=True,
    )

    assert response.redirect_chain == [(f"/console/calls/?company={acme.id}", 302)]
    assert response.context["scope"].chosen == acme
    tampered = alice_client.post(
        "/console/calls/dial/",
        {"to_number": "+14155550124", "company": acme.id, "board_company": "1&x=2"},
    )
    assert tampered["Location"] == "/console/calls/"
