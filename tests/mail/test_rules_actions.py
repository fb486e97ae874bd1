"""What e-mail rules do: categories, leads, assignments, activities and notifications."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from hub.domain.authentication.models import CompanyUser
from hub.domain.crm.models import Activity, Lead
from hub.domain.emails.models import EmailThread
from hub.domain.emails.rules import rules_run
from tests import factories
from tests.mail.rules_fixtures import (
    account_fixture,  # noqa: F401 (the account fixture)
    inbound,
    problem,
    received,
    rule_make,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(account, acme):
    """A thread of the mailbox linked to one of Acme's leads and deals."""
    lead = factories.LeadFactory(company=acme, email="ann@client.test")
    deal = factories.DealFactory(company=acme, lead=lead, contact_email="ann@client.test")
    email = inbound(account)
    EmailThread.objects.filter(pk=email.thread_id).update(lead=lead, deal=deal)
    email.thread.refresh_from_db()
    return email


def test_create_task_makes_a_task_on_the_threads_lead_and_deal_for_the_mailbox_owner(
    account, alice, linked
):
    rule_make(account.company, alice, actions={"create_task": True})

    assert received(linked) == 1

    task = Activity.objects.get()
    assert task.activity_type == "task"
    assert (task.lead, task.deal) == (linked.thread.lead, linked.thread.deal)
    assert task.company == account.company and task.user == account.user
    assert task.subject == "Follow up: Question about the rocket skates"
    assert "From: Ann Client <ann@client.test>" in task.description
    assert "how fast do they go?" in task.description
    assert task.scheduled_at is None and not task.completed


def test_create_task_takes_a_subject_and_a_due_date(account, alice):
    rule_make(
        account.company, alice, actions={"create_task": {"subject": "Call Ann", "due_in_days": 2}}
    )
    before = timezone.now()

    received(inbound(account))

    task = Activity.objects.get()
    assert task.subject == "Call Ann"
    assert task.lead is None and task.deal is None  # no record on the thread: the task alone
    assert before + timedelta(days=2) <= task.scheduled_at <= timezone.now() + timedelta(days=2)


def test_create_activity_logs_the_email_or_the_type_given(account, alice, linked):
    rule_make(account.company, alice, actions={"create_activity": True})
    rule_make(account.company, alice, actions={"create_activity": {"type": "call"}})

    assert received(linked) == 2

    logged, call = Activity.objects.order_by("pk")
    assert logged.activity_type == "email"
    assert logged.subject == "E-mail: Question about the rocket skates"
    assert call.activity_type == "call" and call.lead == linked.thread.lead


def test_notify_users_tells_members_and_reports_the_others(account, alice, bob, charlie):
    former = factories.CompanyUserFactory(company=account.company).user
    CompanyUser.objects.filter(user=former).update(is_active=False)
    rule = rule_make(
        account.company,
        alice,
        name="Urgent mail",
        actions={"notify_users": [alice.pk, bob.pk, charlie.pk, former.pk, alice.pk]},
    )

    assert received(inbound(account, subject="URGENT: skates broke")) == 1

    [note] = alice.notifications.all()
    assert note.title == "Urgent mail: URGENT: skates broke"
    assert note.message.startswith("From ann@client.test: URGENT: skates broke")
    assert bob.notifications.count() == 1
    assert not charlie.notifications.exists() and not former.notifications.exists()
    stored = problem(rule)
    assert stored is not None
    assert f"user {charlie.pk} is not an active member of Acme" in stored.message
    assert f"user {former.pk} is not an active member of Acme" in stored.message
    assert charlie.email not in stored.message  # an outsider's address is not shown


def test_assign_user_assigns_the_threads_lead_and_deal(account, alice, bob, linked):
    rule_make(account.company, alice, actions={"assign_user": bob.pk})

    assert received(linked) == 1

    linked.thread.lead.refresh_from_db()
    linked.thread.deal.refresh_from_db()
    assert linked.thread.lead.assigned_to == bob and linked.thread.deal.assigned_to == bob
    # Already theirs: nothing more to do.
    assert received(inbound(account, thread=linked.thread)) == 0


def test_assign_user_to_an_outsider_is_reported(account, alice, charlie, linked):
    rule = rule_make(account.company, alice, actions={"assign_user": charlie.pk})

    assert received(linked) == 0

    linked.thread.lead.refresh_from_db()
    assert linked.thread.lead.assigned_to is None
    assert "is not an active member" in problem(rule).message


def test_create_lead_turns_a_new_sender_into_a_lead_once(account, alice):
    rule_make(account.company, alice, actions={"create_lead": {"source": "website"}})
    rule_make(account.company, alice, actions={"create_task": True})
    email = inbound(account, from_name="Pat van der Berg", from_email="Pat@NewClient.test")

    assert received(email) == 2

    lead = Lead.objects.get()
    assert (lead.first_name, lead.last_name, lead.email) == (
        "Pat",
        "van der Berg",
        "pat@newclient.test",
    )
    assert lead.lead_source == "website" and lead.company == account.company
    assert lead.assigned_to == account.user and lead.created_by == alice
    assert EmailThread.objects.get(pk=email.thread_id).lead == lead
    # The task of the next rule is on the new lead.
    assert Activity.objects.get().lead == lead
    # The same sender again, in a new thread: no second lead.
    received(inbound(account, from_email="pat@newclient.test"))
    assert Lead.objects.count() == 1


@pytest.mark.parametrize(
    "sender",
    ["noreply@client.test", "mailer-daemon@client.test", "list-bounces@client.test", "own"],
)
def test_create_lead_leaves_robots_and_ourselves_out(account, alice, bob, sender):
    rule_make(account.company, alice, actions={"create_lead": True})
    sender = {"own": bob.email}.get(sender, sender)

    assert received(inbound(account, from_email=sender)) == 0
    assert not Lead.objects.exists()


def test_email_sent_rules_act_on_outbound_mail(account, alice):
    rule_make(
        account.company,
        alice,
        trigger="email_sent",
        conditions={"direction": "outbound", "participant_contains": "client.test"},
        actions={"create_activity": True, "set_category": "customer"},
    )
    sent = inbound(
        account,
        direction="outbound",
        status="sent",
        from_email=account.email,
        to_emails=["ann@client.test"],
    )

    assert rules_run(trigger="email_sent", company_id=account.company_id, email=sent) == 1

    assert Activity.objects.get().activity_type == "email"
    assert EmailThread.objects.get(pk=sent.thread_id).category == "customer"
