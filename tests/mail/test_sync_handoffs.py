"""What the sync hands on: CRM linking of the threads it touched, the ``email_received`` rules
of new inbound mail (never of a first sync's or a resync's old mail), and a message stored by
someone else while a batch was being written."""

from __future__ import annotations

import pytest

from hub.domain.emails import sync_store
from hub.domain.emails.models import Email, EmailRule, EmailThread, MailFolderCursor
from hub.domain.emails.services import email_account_set_password, email_store
from hub.domain.emails.sync import mailbox_sync
from tests import factories
from tests.mail import sync_fixtures
from tests.mail.sync_fixtures import append_at, days_ago, message

pytestmark = [pytest.mark.django_db]
second_mailbox = sync_fixtures.second_mailbox  # the fixture, for this module's tests


def refund_rule(company, creator) -> EmailRule:
    return EmailRule.objects.create(
        company=company,
        name="Complaints",
        trigger="email_received",
        conditions={"subject_contains": "refund"},
        actions={"set_category": "complaint"},
        created_by=creator,
    )


def category(subject: str) -> str:
    thread = Email.objects.get(subject=subject).thread
    assert thread is not None
    return thread.category


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
    refund_rule(acme, alice)
    mailbox.append(message(subject="Refund of the history"))
    mailbox_sync(account=imap_account)  # the first sync imports history: no rules

    mailbox.append(message(subject="I want a refund"))
    mailbox.append(message(subject="Your refund", sender=imap_account.email), folder="Sent")
    mailbox_sync(account=imap_account)

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


def test_a_resync_runs_no_rules_on_old_mail_but_does_on_mail_new_since_the_last_run(
    imap_account, mailbox, acme, alice
):
    refund_rule(acme, alice)
    mailbox.append(message(subject="Hello"))
    mailbox_sync(account=imap_account)
    MailFolderCursor.objects.filter(account=imap_account).delete()  # the admin's "Reset"
    # Unstored old mail (say, moved back into the INBOX) and mail that came since the last run.
    append_at(mailbox, message(subject="Old refund", date=days_ago(10)), days_ago(10))
    mailbox.append(message(subject="New refund"))

    result = mailbox_sync(account=imap_account)

    assert (result.new, result.duplicates) == (2, 1)
    assert category("Old refund") == "primary"
    assert category("New refund") == "complaint"


def test_an_account_pointed_at_another_mailbox_runs_no_rules_on_its_history(
    imap_account, mailbox, second_mailbox, dovecot, acme, alice
):
    refund_rule(acme, alice)
    mailbox.append(message(subject="Hello"))
    mailbox_sync(account=imap_account)
    append_at(second_mailbox, message(subject="Refund, months ago", date=days_ago(5)), days_ago(5))
    # Two mailboxes made in the same second may share a UIDVALIDITY; real ones rarely do.
    uidvalidity = MailFolderCursor.objects.get(account=imap_account, role="inbox").uidvalidity
    dovecot.uidvalidity_set(second_mailbox.address, "INBOX", uidvalidity + 1)
    imap_account.username = second_mailbox.address
    imap_account.save(update_fields=["username"])
    email_account_set_password(account=imap_account, password=second_mailbox.password)

    assert mailbox_sync(account=imap_account).new == 1
    second_mailbox.append(message(subject="A refund, today"))
    assert mailbox_sync(account=imap_account).new == 1

    assert category("Refund, months ago") == "primary"
    assert category("A refund, today") == "complaint"
