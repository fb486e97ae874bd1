"""Rules that send: a template reply to received mail, a template to a new lead or deal's
contact; never to robots, ourselves, old mail or twice a day to one sender."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from hub.domain.crm.services import deal_create, lead_create
from hub.domain.emails.delivery import email_deliver
from hub.domain.emails.hub_models import DeliveryState
from hub.domain.emails.models import Email
from hub.domain.emails.rules import rules_run
from hub.domain.emails.services import email_account_create
from tests.mail.rules_fixtures import (
    account_fixture,  # noqa: F401 (the account fixture)
    category,
    inbound,
    problem,
    received,
    rule_make,
    template_make,
)

pytestmark = pytest.mark.django_db


def outbound() -> list[Email]:
    """The e-mails queued for sending (each has its delivery row)."""
    return list(Email.objects.filter(delivery__isnull=False).order_by("pk"))


def pat_lead(company, creator):
    """A new lead, Pat Jones, whose lead_created rules have not run yet."""
    return lead_create(
        company=company,
        created_by=creator,
        first_name="Pat",
        last_name="Jones",
        email="pat@prospect.test",
        lead_source="website",
    )


@pytest.fixture
def reply_rule(account, alice):
    template = template_make(account.company, alice)
    return rule_make(
        account.company, alice, actions={"send_template_reply": True}, template=template
    )


def test_a_template_reply_is_queued_to_the_sender_in_the_thread(account, alice, reply_rule):
    email = inbound(account)

    assert received(email) == 1

    [reply] = outbound()
    assert reply.status == "queued" and reply.delivery.state == DeliveryState.PENDING
    assert reply.email_account == account and reply.from_email == account.email
    assert reply.to_emails == ["ann@client.test"]
    assert reply.reply_to == email and reply.thread_id == email.thread_id
    assert reply.in_reply_to == email.message_id
    assert reply.subject == "Re: Question about the rocket skates"
    assert reply.body_text == (f"Hi Ann Client, {alice.get_full_name()} at Acme will answer.")
    assert problem(reply_rule) is None


def test_the_reply_goes_out_over_smtp_and_runs_the_email_sent_rules(
    account, alice, reply_rule, smtp_server
):
    rule_make(account.company, alice, trigger="email_sent", actions={"set_category": "customer"})
    email = inbound(account)
    received(email)
    [reply] = outbound()

    assert email_deliver(email_id=reply.pk).outcome == "sent"

    [message] = smtp_server.received
    assert message.rcpt_tos == ["ann@client.test"]
    assert message.message["In-Reply-To"] == email.message_id
    assert category(email) == "customer"  # the email_sent rule ran on the reply


@pytest.mark.parametrize(
    "fields",
    [
        {"from_email": "no-reply@client.test"},
        {"from_email": "MAILER-DAEMON@client.test"},
        {"subject": "Automatic reply: Question about the rocket skates"},
        {"subject": "Out of Office: back Monday"},
        {"subject": "Undeliverable: Thanks, Ann"},
        {"from_email": "own"},
        {"from_email": "member"},
        {"sent_at": "old"},
        {"direction": "outbound"},
    ],
    ids=lambda fields: "-".join(str(v) for v in fields.values()),
)
def test_no_reply_to_robots_ourselves_old_or_outbound_mail(account, alice, bob, reply_rule, fields):
    special = {
        "own": account.email,
        "member": bob.email,
        "old": timezone.now() - timedelta(days=5),
    }
    fields = {name: special.get(value, value) for name, value in fields.items()}

    assert received(inbound(account, **fields)) == 0

    assert outbound() == []
    assert problem(reply_rule) is None  # refusing is no problem of the rule


def test_one_automatic_reply_a_day_to_a_sender(account, reply_rule):
    assert received(inbound(account)) == 1
    # Their answer (an auto-responder, or a person): no second reply within the day.
    assert received(inbound(account, subject="Re: Thanks")) == 0
    assert len(outbound()) == 1
    # Another sender still gets one.
    assert received(inbound(account, from_email="bo@client.test", from_name="Bo")) == 1


def test_a_reply_the_template_cannot_fill_fails_the_rule_alone(account, alice):
    template = template_make(account.company, alice, body_text="About {{deal_title}}")
    rule = rule_make(
        account.company,
        alice,
        actions={"set_category": "customer", "send_template_reply": True},
        template=template,
    )
    rule_make(account.company, alice, actions={"create_task": True})
    email = inbound(account)

    assert received(email) == 1

    assert outbound() == []
    assert category(email) == "primary"  # its category was rolled back with it
    assert "needs a value for {{deal_title}}" in problem(rule).message


def test_send_email_on_a_new_lead_goes_from_the_rule_authors_mailbox(account, alice, acme):
    template = template_make(
        acme, alice, subject="Welcome, {{first_name}}", body_text="Hi {{customer_name}}!"
    )
    rule_make(acme, alice, trigger="lead_created", actions={"send_email": True}, template=template)
    lead = pat_lead(acme, alice)

    assert rules_run(trigger="lead_created", company_id=acme.pk, lead=lead) == 1

    [mail] = outbound()
    assert mail.email_account == account and mail.to_emails == ["pat@prospect.test"]
    assert (mail.subject, mail.body_text) == ("Welcome, Pat", "Hi Pat Jones!")
    assert mail.reply_to is None


def test_send_email_on_a_new_deal_mails_its_contact(account, alice, acme):
    template = template_make(
        acme, alice, subject="{{deal_title}}", body_text="Dear {{customer_name}}"
    )
    rule_make(acme, alice, trigger="deal_created", actions={"send_email": True}, template=template)
    deal = deal_create(
        company=acme,
        created_by=alice,
        title="Rocket skates x 40",
        value=Decimal("4000"),
        contact_name="Wile Coyote",
        contact_email="wile@desert.test",
        company_name="Desert Inc",
    )

    assert rules_run(trigger="deal_created", company_id=acme.pk, deal=deal) == 1

    [mail] = outbound()
    assert mail.to_emails == ["wile@desert.test"]
    assert (mail.subject, mail.body_text) == ("Rocket skates x 40", "Dear Wile Coyote")


def test_send_email_uses_the_authors_default_mailbox(account, alice, acme, smtp_server):
    default = email_account_create(
        company=acme,
        user=alice,
        email="alice.sales@acme.test",
        provider="smtp",
        username="alice.sales@acme.test",
        password="pw-123456",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        is_default=True,
    )
    template = template_make(acme, alice)
    rule_make(acme, alice, trigger="lead_created", actions={"send_email": True}, template=template)
    lead = pat_lead(acme, alice)

    rules_run(trigger="lead_created", company_id=acme.pk, lead=lead)

    assert [mail.email_account for mail in outbound()] == [default]


def test_send_email_without_a_mailbox_of_the_author_is_reported(account, acme, alice, bob):
    template = template_make(acme, alice)
    rule = rule_make(
        acme, bob, trigger="lead_created", actions={"send_email": True}, template=template
    )
    lead = pat_lead(acme, alice)

    assert rules_run(trigger="lead_created", company_id=acme.pk, lead=lead) == 0

    assert outbound() == []
    assert f"{bob.email}, who made the rule, has no active mailbox at Acme" in problem(rule).message


def test_a_sending_rule_on_sent_mail_is_refused(account, alice):
    template = template_make(account.company, alice)
    rule = rule_make(
        account.company,
        alice,
        trigger="email_sent",
        actions={"send_email": True},
        template=template,
    )
    sent = inbound(account, direction="outbound", status="sent", from_email=account.email)

    assert rules_run(trigger="email_sent", company_id=account.company_id, email=sent) == 0

    assert outbound() == []
    assert "does not apply to email_sent rules" in problem(rule).message
