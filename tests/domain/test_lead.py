from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from hub.domain.crm.models import Lead, LeadStatus
from hub.domain.crm.services import lead_assign, lead_create, lead_set_status
from hub.domain.events import payloads


def _create(company, by, **fields) -> Lead:
    defaults = {
        "first_name": "Road",
        "last_name": "Runner",
        "email": "beep@desert.test",
        "lead_source": "website",
    }
    return lead_create(company=company, created_by=by, **(defaults | fields))


def test_lead_create(acme, alice):
    lead = _create(acme, alice)

    lead.refresh_from_db()
    assert (lead.company, lead.created_by, lead.status) == (acme, alice, LeadStatus.NEW)


def test_lead_create_refuses_an_unknown_source(acme, alice):
    with pytest.raises(ValidationError):
        _create(acme, alice, lead_source="carrier_pigeon")

    assert not Lead.objects.exists()


def test_lead_create_refuses_an_outsider_as_assignee(acme, alice, charlie):
    with pytest.raises(ValidationError):
        _create(acme, alice, assigned_to=charlie)

    assert not Lead.objects.exists()


def test_lead_assign_refuses_an_outsider(acme, alice, charlie):
    lead = _create(acme, alice)

    with pytest.raises(ValidationError):
        lead_assign(lead=lead, assignee=charlie)

    lead.refresh_from_db()
    assert lead.assigned_to is None


def test_lead_set_status(acme, alice):
    lead = _create(acme, alice)

    lead_set_status(lead=lead, status=LeadStatus.QUALIFIED)

    lead.refresh_from_db()
    assert lead.status == LeadStatus.QUALIFIED


def test_lead_set_status_cannot_convert(acme, alice):
    lead = _create(acme, alice)

    with pytest.raises(ValidationError):
        lead_set_status(lead=lead, status=LeadStatus.CONVERTED)

    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW


def test_lead_create_appends_lead_created(acme, alice, bob, events):
    lead = _create(acme, alice, assigned_to=bob)

    event = events.one()
    assert (event.type, event.topic, event.audience) == ("lead.created", "leads", "deal_managers")
    assert (event.company_id, event.user_id) == (acme.id, bob.id)
    assert event.payload == payloads.lead_payload(lead)


def test_lead_updates_append_what_changed(acme, alice, bob, events):
    lead = _create(acme, alice)
    events.mark()

    lead_set_status(lead=lead, status=LeadStatus.CONTACTED)
    lead_set_status(lead=lead, status=LeadStatus.CONTACTED)  # no change, no event
    lead_assign(lead=lead, assignee=bob)

    status, assigned = events.new()
    assert (status.type, status.payload["changed"], status.user_id) == (
        "lead.updated",
        ["status"],
        None,
    )
    assert (assigned.type, assigned.payload["changed"], assigned.user_id) == (
        "lead.updated",
        ["assigned_to_id"],
        bob.id,
    )
    assert {status.company_id, assigned.company_id} == {acme.id}
