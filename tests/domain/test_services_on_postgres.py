"""On PostgreSQL the database triggers write hub_event; the services must not add their own."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from hub.domain.calls.services import call_create, call_status_set
from hub.domain.crm.services import (
    deal_assign,
    deal_create,
    deal_mark_won,
    lead_convert,
    lead_create,
)
from hub.domain.emails.services import email_store
from hub.domain.events import services as event_services
from hub.domain.notifications.services import (
    notification_create,
    notification_mark_read,
    notifications_mark_all_read,
)
from tests import factories


@pytest.fixture
def no_append(db, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("on SQLite the services do append (tests/domain counts them)")

    def refuse(**fields):
        raise AssertionError(f"a service appended {fields['type']} itself on PostgreSQL")

    monkeypatch.setattr(event_services, "event_append", refuse)


def test_services_leave_the_events_to_the_triggers(acme, alice, bob, no_append):
    note = notification_create(user=alice, title="t", message="m")
    notification_mark_read(user=alice, notification_id=note.id)
    notification_create(user=alice, title="t2", message="m")
    notifications_mark_all_read(user=alice)
    deal = deal_create(
        company=acme,
        created_by=alice,
        title="d",
        value=Decimal("1"),
        contact_name="c",
        contact_email="c@x.test",
        company_name="x",
    )
    deal_assign(deal=deal, assignee=bob)
    deal_mark_won(deal=deal)
    lead = lead_create(
        company=acme,
        created_by=alice,
        first_name="l",
        last_name="l",
        email="l@x.test",
        lead_source="event",
    )
    lead_convert(lead=lead, by=alice)
    call = call_create(
        company=acme, direction="Inbound", from_number="+1", to_number="+2", twilio_call_sid="CApg"
    )
    call_status_set(call=call, status="Completed")
    account = factories.EmailAccountFactory(company=acme, user=bob)
    email_store(
        account=account,
        message_id="<pg@x>",
        from_email="a@x.test",
        subject="s",
        body_text="b",
        direction="inbound",
    )
