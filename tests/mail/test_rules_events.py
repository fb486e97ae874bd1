"""lead_created / deal_created rules, run from the event log by the collector (once each)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from hub.domain.crm.models import Activity
from hub.domain.crm.services import deal_create, lead_convert, lead_create
from hub.domain.emails.rule_events import CURSOR, rules_collect
from hub.domain.events.models import Event, RelayCursor
from hub.workers.mail_rules import mail_rules_collect
from tests import factories
from tests.eventlog import event_log_flush
from tests.mail.rules_fixtures import problem, rule_make

pytestmark = pytest.mark.django_db


def collect() -> int:
    """Move committed events into the log (no relay runs in tests), then run the rules."""
    event_log_flush()
    return rules_collect()


@pytest.fixture
def placed(acme):
    """The collector's cursor, placed by its first run at the newest event."""
    collect()


def new_lead(company, by, **fields):
    values = {
        "first_name": "Pat",
        "last_name": "Jones",
        "email": "pat@prospect.test",
        "lead_source": "referral",
    } | fields
    return lead_create(company=company, created_by=by, **values)


def new_deal(company, by, **fields):
    values = {
        "title": "Rocket skates x 40",
        "value": Decimal("4000"),
        "contact_name": "Wile Coyote",
        "contact_email": "wile@desert.test",
        "company_name": "Desert Inc",
    } | fields
    return deal_create(company=company, created_by=by, **values)


def test_the_first_run_places_the_cursor_without_running_rules_on_history(acme, alice):
    rule_make(acme, alice, trigger="lead_created", actions={"create_task": True})
    new_lead(acme, alice)
    event_log_flush()
    newest = Event.objects.order_by("-id").values_list("id", flat=True).first()

    assert rules_collect() == 0

    assert RelayCursor.objects.get(name=CURSOR).last_event_id == newest
    assert not Activity.objects.exists()


def test_a_new_lead_runs_the_lead_created_rules_once(placed, acme, alice, bob):
    rule_make(
        acme,
        alice,
        trigger="lead_created",
        conditions={"source": "referral", "participant_contains": "prospect.test"},
        actions={"create_task": {"due_in_days": 1}, "assign_user": bob.pk},
    )
    lead = new_lead(acme, alice)

    assert collect() == 1
    assert collect() == 0  # run again: nothing twice

    task = Activity.objects.get()
    assert task.lead == lead and task.activity_type == "task"
    assert task.subject == "Follow up: new lead Pat Jones"
    lead.refresh_from_db()
    assert lead.assigned_to == bob
    assert task.user == bob  # assigned first, then the task is for the assignee


@pytest.mark.parametrize(
    ("conditions", "matches"),
    [
        ({"status": "new"}, True),
        ({"status": ["qualified", "contacted"]}, False),
        ({"source": "website"}, False),
        ({"value_gte": 500}, True),
        ({"value_gte": 5000}, False),
        ({"participant_contains": "pat@prospect.test"}, True),
        ({"participant_contains": "other.test"}, False),
    ],
)
def test_lead_conditions(placed, acme, alice, conditions, matches):
    rule_make(
        acme, alice, trigger="lead_created", conditions=conditions, actions={"create_task": True}
    )
    new_lead(acme, alice, estimated_value=Decimal("1500"))

    assert collect() == (1 if matches else 0)


@pytest.mark.parametrize(
    ("conditions", "matches"),
    [
        ({"stage": "prospecting"}, True),
        ({"stage": ["Proposal", "Negotiation"]}, False),
        ({"value_gte": 4000}, True),
        ({"value_gte": 4000.01}, False),
        ({"status": "open"}, True),
        ({"participant_contains": "desert.test"}, True),
    ],
)
def test_deal_conditions(placed, acme, alice, conditions, matches):
    rule_make(
        acme, alice, trigger="deal_created", conditions=conditions, actions={"create_task": True}
    )
    deal = new_deal(acme, alice)

    assert collect() == (1 if matches else 0)
    if matches:
        assert Activity.objects.get().deal == deal


def test_a_converted_lead_runs_the_deal_created_rules_with_its_source(placed, acme, alice):
    rule_make(
        acme,
        alice,
        trigger="deal_created",
        conditions={"source": "referral"},
        actions={"create_activity": True},
    )
    lead = new_lead(acme, alice)
    deal = lead_convert(lead=lead, by=alice)

    assert collect() == 1

    note = Activity.objects.get()
    assert (note.deal, note.activity_type) == (deal, "note")
    assert note.subject == f"New deal {deal.title}"


def test_another_companys_leads_never_run_this_companys_rules(placed, acme, alice, globex, charlie):
    rule_make(acme, alice, trigger="lead_created", actions={"notify_users": [alice.pk]})
    globex_rule = rule_make(globex, charlie, trigger="lead_created", actions={"create_task": True})
    new_lead(globex, charlie)

    assert collect() == 1

    assert not alice.notifications.exists()
    task = Activity.objects.get()
    assert task.company == globex and task.user == charlie
    assert problem(globex_rule) is None


def test_a_bad_rule_does_not_hold_up_the_others_nor_the_cursor(placed, acme, alice):
    bad = rule_make(acme, alice, trigger="deal_created", actions={"set_category": "lead"})
    rule_make(acme, alice, trigger="deal_created", actions={"notify_users": [alice.pk]})
    new_deal(acme, alice)

    assert collect() == 1
    assert collect() == 0

    assert "does not apply to deal_created rules" in problem(bad).message
    assert problem(bad).occurrences == 1
    assert alice.notifications.count() == 1


def test_a_lead_deleted_before_the_run_is_passed_over(placed, acme, alice):
    rule_make(acme, alice, trigger="lead_created", actions={"create_task": True})
    new_lead(acme, alice).delete()
    kept = new_lead(acme, alice, email="kept@prospect.test")

    assert collect() == 1
    assert Activity.objects.get().lead == kept


def test_the_scheduled_actor_runs_the_collector(placed, acme, alice):
    rule_make(acme, alice, trigger="lead_created", actions={"create_task": True})
    # A lead the CRM wrote (no hub service): on PostgreSQL the table's trigger logs it too.
    crm_lead = factories.LeadFactory(company=acme)
    lead = new_lead(acme, alice)
    event_log_flush()

    mail_rules_collect()

    expected = {lead.pk, crm_lead.pk} if connection.vendor == "postgresql" else {lead.pk}
    assert {a.lead_id for a in Activity.objects.all()} == expected
