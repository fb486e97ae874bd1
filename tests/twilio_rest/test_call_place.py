"""Click-to-call through the real twilio-python client and the loopback fake of the REST API."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from hub.domain.authentication.models import Company, CompanyUser, User
from hub.domain.calls.models import Call, CallStatus, Disposition
from hub.domain.calls.outbound import (
    PENDING_SID_PREFIX,
    CallPlacementError,
    call_outbound_adopt,
    call_place,
)
from hub.domain.calls.services import (
    call_create,
    call_disposition_set,
    call_note_add,
    phone_number_add,
)
from tests import factories
from tests.eventlog import logged_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice_number(acme, alice):
    return phone_number_add(
        company=acme,
        user=alice,
        phone_number="+14155550100",
        twilio_phone_sid="PN" + "a" * 32,
        is_default=True,
    )


def _call_events(call: Call) -> list[str]:
    return [
        e.type
        for e in logged_events().filter(topic="calls").order_by("id")
        if e.payload["id"] == call.id
    ]


def test_the_row_is_committed_before_twilio_is_asked_then_the_sid_is_stored(
    twilio_settings, fake_twilio, acme, alice, alice_number
):
    seen_by_twilio = []

    def look(form):  # runs in the fake's thread, on its own database connection
        seen_by_twilio.extend(
            Call.objects.filter(to_number=form["To"]).values_list("status", "twilio_call_sid")
        )
        connection.close()

    fake_twilio.on_create = look

    call = call_place(user=alice, company=acme, to_number="(415) 555-0123")

    [(status, placeholder)] = seen_by_twilio
    assert status == CallStatus.INITIATED
    assert placeholder.startswith(PENDING_SID_PREFIX)
    call.refresh_from_db()
    assert call.twilio_call_sid in fake_twilio.calls
    assert (call.direction, call.status, call.from_number, call.to_number) == (
        "Outbound",
        CallStatus.INITIATED,
        "+14155550100",
        "+14155550123",
    )
    assert (call.user, call.phone_number, call.company) == (alice, alice_number, acme)
    sent = fake_twilio.calls[call.twilio_call_sid]["request"]
    assert sent["From"] == "+14155550100"
    assert sent["Url"] == "https://hub.example.test/twilio/voice/outbound"
    assert sent["StatusCallback"] == "https://hub.example.test/twilio/voice/status"
    assert sent["StatusCallbackMethod"] == "POST"
    assert sent["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert _call_events(call) == ["call.created"]


def test_notes_and_a_disposition_go_on_a_placed_call(
    twilio_settings, fake_twilio, acme, alice, alice_number
):
    lead = factories.LeadFactory(company=acme)
    call = call_place(user=alice, company=acme, to_number="+14155550123", lead=lead)

    call_note_add(call=call, user=alice, note="Asked for a quote")
    call_disposition_set(call=call, disposition=Disposition.CONNECTED)

    call.refresh_from_db()
    assert call.lead == lead
    assert call.disposition == Disposition.CONNECTED
    assert [n.note for n in call.call_notes.all()] == ["Asked for a quote"]


def test_a_number_twilio_refuses_fails_the_call_with_twilios_reason(
    twilio_settings, fake_twilio, acme, alice, alice_number
):
    fake_twilio.errors["+14155550111"] = (
        400,
        21215,
        "Account not authorized to call +14155550111. Perhaps you need to enable geo permissions.",
    )

    with pytest.raises(CallPlacementError) as refused:
        call_place(user=alice, company=acme, to_number="+1 415 555 0111")

    message = str(refused.value)
    assert message == (
        "Twilio refused the call to +14155550111: Account not authorized to call "
        "+14155550111. Perhaps you need to enable geo permissions."
    )
    call = Call.objects.get(pk=refused.value.call.pk)
    assert call.status == CallStatus.FAILED
    assert call.notes == message
    assert call.twilio_call_sid.startswith(PENDING_SID_PREFIX)
    assert _call_events(call) == ["call.created", "call.updated"]


def test_an_invalid_number_error_21211_reads_as_a_sentence(
    twilio_settings, fake_twilio, acme, alice, alice_number
):
    # A possible number Twilio still refuses: its own validation answers with error 21211.
    fake_twilio.errors["+14155550112"] = (
        400,
        21211,
        "The 'To' number +14155550112 is not a valid phone number.",
    )

    with pytest.raises(CallPlacementError, match=r"^Twilio refused the call to \+14155550112: The"):
        call_place(user=alice, company=acme, to_number="+14155550112")


def test_twilio_unreachable_fails_the_call_with_a_human_message(
    twilio_settings, closed_port, acme, alice, alice_number
):
    twilio_settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{closed_port}"

    with pytest.raises(CallPlacementError) as failed:
        call_place(user=alice, company=acme, to_number="+14155550123")

    assert str(failed.value) == (
        f"Could not place the call to +14155550123: cannot reach Twilio at "
        f"127.0.0.1:{closed_port} (connection refused)."
    )
    call = Call.objects.get(pk=failed.value.call.pk)
    assert (call.status, call.notes) == (CallStatus.FAILED, str(failed.value))


def test_twilio_too_slow_fails_the_call_with_a_human_message(
    twilio_settings, fake_twilio, acme, alice, alice_number
):
    twilio_settings.TWILIO_HTTP_TIMEOUT_SECONDS = 0.3
    fake_twilio.delay_seconds = 1.0

    with pytest.raises(CallPlacementError) as failed:
        call_place(user=alice, company=acme, to_number="+14155550123")

    assert str(failed.value) == (
        "Could not place the call to +14155550123: Twilio did not answer within 0.3 s."
    )
    assert Call.objects.get(pk=failed.value.call.pk).status == CallStatus.FAILED


def test_without_a_default_number_nothing_is_created(twilio_settings, fake_twilio, acme, bob):
    with pytest.raises(CallPlacementError, match="has no default phone number in Acme"):
        call_place(user=bob, company=acme, to_number="+14155550123")

    assert not Call.objects.exists()
    assert fake_twilio.requests == []


def test_a_number_that_is_not_a_number_is_refused_before_anything_is_stored(
    twilio_settings, fake_twilio, acme, alice, alice_number
):
    with pytest.raises(
        CallPlacementError, match="'call me' is not a phone number that can be called"
    ):
        call_place(user=alice, company=acme, to_number="call me")

    assert not Call.objects.exists()
    assert fake_twilio.requests == []


def test_without_twilio_credentials_calling_is_not_set_up(settings, acme, alice, alice_number):
    settings.TWILIO_ACCOUNT_SID = None

    with pytest.raises(CallPlacementError, match="Calling is not set up on this hub"):
        call_place(user=alice, company=acme, to_number="+14155550123")
    assert not Call.objects.exists()


def test_another_companys_lead_is_refused(
    twilio_settings, fake_twilio, acme, globex, alice, alice_number
):
    lead = factories.LeadFactory(company=globex)

    with pytest.raises(CallPlacementError, match="belongs to another company"):
        call_place(user=alice, company=acme, to_number="+14155550123", lead=lead)
    assert fake_twilio.requests == []


def test_an_inactive_membership_cannot_place_calls_though_its_number_is_still_default(
    twilio_settings, fake_twilio, acme, alice, alice_number
):
    CompanyUser.objects.filter(company=acme, user=alice).update(is_active=False)

    with pytest.raises(CallPlacementError) as refused:
        call_place(user=alice, company=acme, to_number="+14155550123")

    assert str(refused.value) == (
        f"{alice.email} is not an active member of Acme, so cannot place calls from its numbers."
    )
    assert refused.value.call is None
    assert not Call.objects.exists()
    assert fake_twilio.requests == []


def test_a_deactivated_user_cannot_place_calls(
    twilio_settings, fake_twilio, acme, alice, alice_number
):
    User.objects.filter(pk=alice.pk).update(is_active=False)

    with pytest.raises(CallPlacementError, match="is not an active member of Acme"):
        call_place(user=alice, company=acme, to_number="+14155550123")
    assert not Call.objects.exists()
    assert fake_twilio.requests == []


def test_a_deactivated_company_places_no_calls(
    twilio_settings, fake_twilio, acme, alice, alice_number
):
    Company.objects.filter(pk=acme.pk).update(is_active=False)

    with pytest.raises(CallPlacementError) as refused:
        call_place(user=alice, company=acme, to_number="+14155550123")

    assert str(refused.value) == "Acme is deactivated in the CRM; its numbers cannot place calls."
    assert not Call.objects.exists()
    assert fake_twilio.requests == []


def test_an_outsider_holding_a_number_of_the_company_cannot_call_from_it(
    twilio_settings, fake_twilio, acme, alice_number, charlie
):
    # A number left pointing at someone who is no member (the shared table allows it).
    factories.PhoneNumberFactory(
        company=acme, user=charlie, phone_number="+14155550177", is_default=True
    )

    with pytest.raises(CallPlacementError, match="is not an active member of Acme"):
        call_place(user=charlie, company=acme, to_number="+14155550123")
    assert not Call.objects.exists()
    assert fake_twilio.requests == []


def test_inside_a_transaction_it_refuses_to_run(twilio_settings, acme, alice, alice_number):
    with transaction.atomic(), pytest.raises(RuntimeError):
        call_place(user=alice, company=acme, to_number="+14155550123")


SID = "CA" + "5" * 32


def test_a_status_callback_processed_before_the_sid_is_stored_adopts_the_row(
    twilio_settings, fake_twilio, acme, alice, alice_number
):
    fake_twilio.next_sid = SID

    def callback_first(form):  # Twilio's "initiated" callback, processed before the answer
        call_outbound_adopt(call_sid=form["Sid"], from_number=form["From"], to_number=form["To"])
        connection.close()

    fake_twilio.on_create = callback_first

    call = call_place(user=alice, company=acme, to_number="+14155550123")

    assert list(Call.objects.values_list("id", "twilio_call_sid")) == [(call.id, SID)]


def test_adoption_takes_only_a_waiting_click_to_call_row(acme):
    factories.CallFactory(
        company=acme, direction="Outbound", from_number="+14155550100", to_number="+14155550123"
    )

    assert (
        call_outbound_adopt(call_sid=SID, from_number="+14155550100", to_number="+14155550123")
        is None
    )


def test_a_row_a_callback_created_first_keeps_the_sid_and_the_placeholder_is_left_to_reconcile(
    twilio_settings, fake_twilio, acme, alice, alice_number
):
    fake_twilio.next_sid = SID

    def callback_created_its_own_row(form):
        call_create(
            company=acme,
            direction="Outbound",
            from_number=form["From"],
            to_number=form["To"],
            twilio_call_sid=form["Sid"],
        )
        connection.close()

    fake_twilio.on_create = callback_created_its_own_row

    call = call_place(user=alice, company=acme, to_number="+14155550123")

    call.refresh_from_db()
    assert call.twilio_call_sid.startswith(PENDING_SID_PREFIX)
    assert Call.objects.filter(twilio_call_sid=SID).exclude(pk=call.pk).count() == 1
