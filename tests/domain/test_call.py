from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from hub.domain.calls.models import Call, CallStatus, PhoneNumber, VoicemailMessage
from hub.domain.calls.selectors import company_number_find
from hub.domain.calls.services import (
    call_create,
    call_note_add,
    call_status_set,
    phone_number_add,
    phone_number_update,
    voicemail_create,
)
from hub.domain.events import payloads
from tests import factories

_sids = iter(range(1, 10_000))


def _create(company, **fields) -> Call:
    defaults = {
        "direction": "Inbound",
        "from_number": "+14155550100",
        "to_number": "+14155550199",
        "twilio_call_sid": f"CA{next(_sids):032d}",
    }
    return call_create(company=company, **(defaults | fields))


def test_call_create(acme, alice):
    call = _create(acme, user=alice)

    call.refresh_from_db()
    assert (call.company, call.user, call.status) == (acme, alice, CallStatus.INITIATED)


def test_call_status_set_records_timing(acme):
    call = _create(acme)

    call_status_set(call=call, status=CallStatus.COMPLETED, duration=42)

    call.refresh_from_db()
    assert (call.status, call.duration) == (CallStatus.COMPLETED, 42)


def test_an_unknown_status_is_refused(acme):
    call = _create(acme)

    with pytest.raises(ValidationError):
        call_status_set(call=call, status="Exploded")

    call.refresh_from_db()
    assert call.status == CallStatus.INITIATED


def test_an_empty_note_is_refused(acme, alice):
    call = _create(acme)

    with pytest.raises(ValidationError):
        call_note_add(call=call, user=alice, note="   ")
    assert call_note_add(call=call, user=alice, note=" Called back ").note == "Called back"


@pytest.mark.parametrize("field", ["phone_number", "lead", "deal", "customer", "user"])
def test_call_create_refuses_another_companys_rows(acme, globex, charlie, field):
    foreign = {
        "phone_number": lambda: factories.PhoneNumberFactory(company=globex),
        "lead": lambda: factories.LeadFactory(company=globex),
        "deal": lambda: factories.DealFactory(company=globex),
        "customer": lambda: factories.CustomerCompanyFactory(company=globex).customer,
        "user": lambda: charlie,
    }[field]()

    with pytest.raises(ValidationError) as excinfo:
        _create(acme, **{field: foreign})

    assert field in excinfo.value.message_dict
    assert not Call.objects.filter(company=acme).exists()


def test_call_create_accepts_the_companys_own_rows(acme, alice):
    call = _create(
        acme,
        user=alice,
        phone_number=factories.PhoneNumberFactory(company=acme),
        lead=factories.LeadFactory(company=acme),
        deal=factories.DealFactory(company=acme),
        customer=factories.CustomerCompanyFactory(company=acme).customer,
    )

    assert call.pk is not None


def test_voicemail_refuses_another_companys_number(acme, globex):
    with pytest.raises(ValidationError):
        voicemail_create(
            company=acme,
            phone_number=factories.PhoneNumberFactory(company=globex),
            from_number="+14155550100",
            duration=12,
            recording_url="https://api.twilio.com/rec/RE1",
        )

    assert not VoicemailMessage.objects.exists()


# --- events ---------------------------------------------------------------------------------


def test_call_create_appends_call_created_for_the_company(acme, alice, events):
    call = _create(acme, user=alice)

    event = events.one()
    assert (event.type, event.topic, event.audience) == ("call.created", "calls", "company")
    assert (event.company_id, event.user_id) == (acme.id, alice.id)
    call.refresh_from_db()
    assert event.payload == payloads.call_payload(call)


def test_call_updated_only_when_the_status_changes(acme, events):
    call = _create(acme)
    events.mark()

    call_status_set(call=call, status=CallStatus.RINGING)
    call_status_set(call=call, status=CallStatus.RINGING, duration=3)  # same status: no event
    call_status_set(call=call, status=CallStatus.COMPLETED, duration=60)

    ringing, completed = events.new()
    assert (ringing.type, ringing.payload["status"]) == ("call.updated", "Ringing")
    assert (completed.type, completed.payload["status"], completed.payload["duration"]) == (
        "call.updated",
        "Completed",
        60,
    )
    assert {ringing.company_id, completed.company_id} == {acme.id}


def test_a_refused_call_appends_nothing(acme, charlie, events):
    with pytest.raises(ValidationError):
        _create(acme, user=charlie)

    assert events.new() == []


# --- one company per active number ----------------------------------------------------------


def _add(company, user, number="+14155559000", **fields) -> PhoneNumber:
    return phone_number_add(
        company=company,
        user=user,
        phone_number=number,
        twilio_phone_sid=f"PN{next(_sids):032d}",
        **fields,
    )


def test_phone_number_add_refuses_a_number_another_company_holds(acme, alice, globex, charlie):
    _add(globex, charlie, "+14155559000")

    with pytest.raises(ValidationError) as excinfo:
        _add(acme, alice, "(415) 555-9000")

    assert "another company" in " ".join(excinfo.value.message_dict["phone_number"])
    assert not PhoneNumber.objects.filter(company=acme).exists()


def test_phone_number_add_takes_a_number_another_company_gave_up(acme, alice, globex, charlie):
    _add(globex, charlie, is_active=False)
    _add(acme, alice)  # a second line of the same company is no conflict either
    _add(acme, alice)

    assert PhoneNumber.objects.filter(company=acme, is_active=True).count() == 2
    with pytest.raises(ValidationError):
        _add(globex, charlie)
    _add(globex, charlie, is_active=False)  # kept inactive: claims nothing


def test_company_number_find_leaves_a_number_two_companies_hold_unmatched(acme, globex, caplog):
    # Rows from before the rule: two companies hold +1 415 555 9000 actively.
    ours = factories.PhoneNumberFactory(company=acme, phone_number="+14155559000")
    factories.PhoneNumberFactory(company=globex, phone_number="+14155559000")
    older = factories.PhoneNumberFactory(company=acme, phone_number="+14155559001")
    factories.PhoneNumberFactory(company=acme, phone_number="+14155559001")

    with caplog.at_level("ERROR", logger="hub.domain.calls.selectors"):
        assert company_number_find("+1 415 555 9000") is None
    assert "+14155559000 is an active number of 2 companies" in caplog.text
    # Two rows of one company are no conflict: the older is taken.
    assert company_number_find("+14155559001").id == older.id

    PhoneNumber.objects.filter(company=globex).update(is_active=False)
    assert company_number_find("+14155559000").id == ours.id


def test_phone_number_update_keeps_the_rules_of_adding(acme, alice, globex, charlie):
    ours = _add(acme, alice, "+14155559000", is_default=True)
    theirs = _add(globex, charlie, "+14155559001")

    with pytest.raises(ValidationError) as excinfo:
        phone_number_update(number=ours, user=charlie)
    assert "user" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        phone_number_update(number=PhoneNumber.objects.get(pk=ours.pk), phone_number="4155559001")
    assert "phone_number" in excinfo.value.message_dict

    phone_number_update(number=theirs, is_active=False)
    moved = phone_number_update(
        number=PhoneNumber.objects.get(pk=ours.pk), phone_number="(415) 555-9001"
    )
    second = _add(acme, alice, "+442079460958")
    phone_number_update(number=second, is_default=True)

    moved.refresh_from_db()
    assert (moved.phone_number, moved.country_code, moved.is_default) == (
        "+14155559001",
        "US",
        False,
    )
    second.refresh_from_db()
    assert (second.country_code, second.is_default) == ("GB", True)
    with pytest.raises(ValidationError):
        phone_number_update(number=theirs, is_active=True)
