"""On PostgreSQL the triggers write the events: one per change, whoever writes, same payload."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from hub.domain.calls.services import call_create, call_status_set
from hub.domain.crm.services import (
    deal_assign,
    deal_create,
    deal_mark_won,
    deal_move,
    lead_assign,
    lead_create,
)
from hub.domain.emails.services import email_store
from hub.domain.events import payloads
from hub.domain.events.models import Event
from hub.domain.notifications.services import notification_create, notification_mark_read
from tests import factories
from tests.eventlog import event_log_flush

pytestmark = pytest.mark.usefixtures("postgres_only")


def _new_events(since: int) -> list[Event]:
    event_log_flush()
    return list(Event.objects.filter(id__gt=since).order_by("id"))


def _last_id() -> int:
    event_log_flush()
    last = Event.objects.order_by("-id").first()
    return last.id if last else 0


def test_notification_events_match_the_python_payload(alice):
    start = _last_id()
    note = notification_create(user=alice, title="Hello", message="World")
    notification_mark_read(user=alice, notification_id=note.id)
    notification_mark_read(user=alice, notification_id=note.id)  # no change, no event
    events = _new_events(start)
    assert [e.type for e in events] == ["notification.created", "notification.read"]
    note.refresh_from_db()
    assert events[1].payload == payloads.notification_payload(note)
    assert (events[1].audience, events[1].user_id, events[1].company_id) == ("user", alice.id, None)


def test_a_deleted_notification_is_an_event_for_its_user(alice):
    note = notification_create(user=alice, title="Gone soon", message="m")
    start = _last_id()
    with connection.cursor() as cursor:  # as the CRM or psql would
        cursor.execute("DELETE FROM notifications_notification WHERE id = %s", [note.id])
    [event] = _new_events(start)
    assert event.type == "notification.deleted"
    assert event.payload == payloads.notification_payload(note)
    assert (event.audience, event.user_id, event.company_id) == ("user", alice.id, None)


def test_deal_events_carry_what_changed(acme, alice, bob):
    start = _last_id()
    deal = deal_create(
        company=acme,
        created_by=alice,
        title="Big",
        value=Decimal("1200"),
        contact_name="C",
        contact_email="c@x.test",
        company_name="X",
    )
    stages = list(deal.pipeline.stages.order_by("order"))
    deal_move(deal=deal, stage=stages[2])
    deal_assign(deal=deal, assignee=bob)
    deal_mark_won(deal=deal)
    events = _new_events(start)
    assert [e.type for e in events] == [
        "deal.created",
        "deal.updated",
        "deal.updated",
        "deal.updated",
    ]
    assert [e.payload.get("changed") for e in events] == [
        None,
        ["stage_id"],
        ["assigned_to_id"],
        ["stage_id", "status"],
    ]
    deal.refresh_from_db()
    expected = payloads.deal_payload(deal) | {"changed": ["stage_id", "status"]}
    assert events[-1].payload == expected
    assert events[-1].user_id == bob.id and events[-1].company_id == acme.id


def test_a_deals_title_value_or_deletion_is_an_event_wherever_it_is_made(acme, alice, bob):
    deal = deal_create(
        company=acme,
        created_by=alice,
        title="Big",
        value=Decimal("1200"),
        contact_name="C",
        contact_email="c@x.test",
        company_name="X",
        assigned_to=bob,
    )
    start = _last_id()
    with connection.cursor() as cursor:  # as the CRM or psql would
        cursor.execute("UPDATE crm_deal SET value = 1500 WHERE id = %s", [deal.id])
        cursor.execute("UPDATE crm_deal SET title = 'Bigger' WHERE id = %s", [deal.id])
        cursor.execute("UPDATE crm_deal SET description = 'no event' WHERE id = %s", [deal.id])
        cursor.execute("DELETE FROM crm_deal WHERE id = %s", [deal.id])
    events = _new_events(start)
    assert [(e.type, e.payload.get("changed")) for e in events] == [
        ("deal.updated", ["value"]),
        ("deal.updated", ["title"]),
        ("deal.deleted", None),
    ]
    deleted = events[-1]
    assert deleted.payload["id"] == deal.id and deleted.payload["title"] == "Bigger"
    assert deleted.payload["value"] == "1500.00"
    assert (deleted.audience, deleted.company_id, deleted.user_id) == (
        "deal_managers",
        acme.id,
        bob.id,
    )


def test_lead_call_and_email_events(acme, alice, bob):
    start = _last_id()
    lead = lead_create(
        company=acme,
        created_by=alice,
        first_name="L",
        last_name="Ead",
        email="l@x.test",
        lead_source="website",
    )
    lead_assign(lead=lead, assignee=bob)
    call = call_create(
        company=acme,
        direction="Inbound",
        from_number="+14155550100",
        to_number="+14155550199",
        twilio_call_sid="CA1",
    )
    call_status_set(call=call, status="Ringing")
    call_status_set(call=call, status="Ringing", duration=3)  # same status: no event
    account = factories.EmailAccountFactory(company=acme, user=bob)
    email = email_store(
        account=account,
        message_id="<m1@x>",
        from_email="a@x.test",
        subject="S",
        body_text="B",
        direction="inbound",
    )
    events = _new_events(start)
    assert [e.type for e in events] == [
        "lead.created",
        "lead.updated",
        "call.created",
        "call.updated",
        "email.created",
    ]
    call.refresh_from_db()
    # The event shows the call as it was when the status changed (before duration was set).
    assert events[3].payload == payloads.call_payload(call) | {"duration": None}
    email.refresh_from_db()
    assert events[4].payload == payloads.email_payload(email)
    assert (events[4].audience, events[4].user_id, events[4].company_id) == (
        "user",
        bob.id,
        acme.id,
    )
    lead.refresh_from_db()
    assert events[1].payload == payloads.lead_payload(lead) | {"changed": ["assigned_to_id"]}


def test_plain_sql_writes_trigger_events_too(alice, acme):
    start = _last_id()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO notifications_notification (id, user_id, title, message, type, is_read, created_at) "
            "VALUES (gen_random_uuid(), %s, 'psql', 'hi', 'warning', false, now())",
            [alice.id],
        )
        cursor.execute(
            "INSERT INTO calls_call (company_id, direction, from_number, to_number, status, twilio_call_sid, "
            "price_unit, notes, created_at) VALUES (%s, 'Outbound', '+1', '+2', 'Initiated', 'CAsql', 'USD', '', now())",
            [acme.id],
        )
        cursor.execute(
            "UPDATE calls_call SET status = 'Completed', duration = 42 WHERE twilio_call_sid = 'CAsql'"
        )
    events = _new_events(start)
    assert [e.type for e in events] == ["notification.created", "call.created", "call.updated"]
    assert events[2].payload["status"] == "Completed" and events[2].payload["duration"] == 42
