"""Helpers of the e-mail rule tests (H5's area): rules, inbound mail, a synced mailbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hub.domain.emails.models import (
    Email,
    EmailAccount,
    EmailRule,
    EmailRuleProblem,
    EmailTemplate,
    EmailThread,
)
from hub.domain.emails.rules import rules_run
from hub.domain.emails.services import email_store, email_thread_create


def rule_make(company, creator, *, trigger="email_received", conditions=None, actions, **fields):
    defaults = {"name": f"Rule {EmailRule.objects.count() + 1}"}
    return EmailRule.objects.create(
        company=company,
        created_by=creator,
        trigger=trigger,
        conditions={} if conditions is None else conditions,
        actions=actions,
        **(defaults | fields),
    )


def inbound(account: EmailAccount, *, thread: EmailThread | None = None, **fields) -> Email:
    """A message received in ``account``, in its own thread unless one is given."""
    values: dict[str, Any] = {
        "from_email": "ann@client.test",
        "from_name": "Ann Client",
        "to_emails": [account.email],
        "subject": "Question about the rocket skates",
        "body_text": "Hello, how fast do they go?",
        "direction": "inbound",
        "status": "delivered",
        "sent_at": timezone.now(),
    } | fields
    if thread is None:
        participants = [
            values["from_email"],
            *values["to_emails"],
            *(values.get("cc_emails") or []),
        ]
        thread = email_thread_create(
            account=account, subject=values["subject"], participants=participants
        )
    count = Email.objects.count()
    return email_store(
        account=account, thread=thread, message_id=f"<in{count}-{thread.pk}@client.test>", **values
    )


def received(email: Email) -> int:
    """Run the email_received rules of the e-mail's company on it."""
    return rules_run(
        trigger="email_received", company_id=email.email_account.company_id, email=email
    )


def category(email: Email) -> str:
    assert email.thread_id is not None
    return EmailThread.objects.get(pk=email.thread_id).category


def problem(rule: EmailRule) -> EmailRuleProblem | None:
    return EmailRuleProblem.objects.filter(rule=rule).first()


def template_make(company, creator, **fields) -> EmailTemplate:
    defaults = {
        "name": "Thanks",
        "category": "general",
        "subject": "Thanks, {{customer_name}}",
        "body_html": "<p>Hi {{customer_name}}, {{user_name}} at {{company_name}} will answer.</p>",
        "body_text": "Hi {{customer_name}}, {{user_name}} at {{company_name}} will answer.",
    }
    return EmailTemplate.objects.create(company=company, created_by=creator, **(defaults | fields))


@pytest.fixture(name="account")
def account_fixture(imap_account):
    """alice's Acme mailbox, synced once already: new mail runs the email_received rules."""
    imap_account.last_sync = timezone.now() - timedelta(minutes=1)
    imap_account.save(update_fields=["last_sync"])
    return imap_account
