"""What the sync hands on: CRM linking of the threads it touched, the ``email_received`` rules
of new inbound mail, and a message stored by someone else while a batch was being written."""

from __future__ import annotations

import pytest

from hub.domain.emails import sync_store
from hub.domain.emails.models import Email, EmailRule, EmailThread
from hub.domain.emails.services import email_store
from hub.domain.emails.sync import mailbox_sync
from tests import factories
from tests.mail.sync_fixtures import message

pytestmark = [pytest.mark.django_db]


def test_a_synced_thread_is_linked_to_the_lead_of_its_company(imap_account, mailbox, acme, globex):
    ours = factories.LeadFactory(company=acme, email="carol@client.test")
    factories.LeadFactory(company=globex, email="dan@client.test")
    mailbox.append(message(subject="Quote", sender="Carol <carol@client.test>"))
    mailbox.append(message(subject="Other", sender="Dan <dan@client.test>"))

    mailbox_sync(account=imap_account)

    assert Email.objects.get(subject="Quote").thread.lead == ours
    assert Email.objects.get(subject="Other").thread.lead is None


def test_new_inbound_mail_runs_the_email_received_rules_after_the_first_sync(
    imap_account, mailbox, acme, alice
):
    EmailRule.objects.create(
        company=acme,
        name="Complaints",
        trigger="email_received",
        conditions={"subject_contains": "refund"},
        actions={"set_category": "complaint"},
        created_by=alice,
    )
    mailbox.append(message(subject="Refund of the history"))
    mailbox_sync(account=imap_account)  # the first sync imports history: no rules

    mailbox.append(message(subject="I want a refund"))
    mailbox.append(message(subject="Your refund", sender=imap_account.email), folder="Sent")
    mailbox_sync(account=imap_account)

    def category(subject):
        return Email.objects.get(subject=subject).thread.category

    assert category("I want a refund") == "complaint"
    assert category("Refund of the history") == "primary"
    assert category("Your refund") == "primary"  # sent mail is not "received"


def test_a_message_stored_meanwhile_by_someone_else_is_a_duplicate(
    imap_account, mailbox, monkeypatch
):
    mailbox.append(message(subject="Mine", message_id="<taken@hub.test>"))
    mailbox.append(message(subject="Also new"))
    looked = sync_store._not_stored

    def look_then_someone_stores(account, folder, unique):
        fresh = looked(account, folder, unique)
        # The send path stores the same Message-ID between our look and our insert.
        email_store(
            account=account,
            message_id="<taken@hub.test>",
            from_email=account.email,
            subject="Mine",
            body_text="sent by the hub",
            direction="outbound",
            status="sent",
        )
        return fresh

    monkeypatch.setattr(sync_store, "_not_stored", look_then_someone_stores)

    result = mailbox_sync(account=imap_account)

    assert result.status == "completed" and (result.new, result.duplicates) == (1, 1)
    assert Email.objects.get(message_id="<taken@hub.test>").body_text == "sent by the hub"
    also = Email.objects.get(subject="Also new")
    assert EmailThread.objects.get(pk=also.thread_id).message_count == 1
