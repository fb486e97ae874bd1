"""Rules on mail the real sync brings in from Dovecot: new mail runs them, history does not."""

from __future__ import annotations

import pytest

from tests.mail.sync_fixtures import message

# isort: split
from hub.domain.emails.models import Email, EmailThread
from hub.domain.emails.sync import mailbox_sync
from tests.mail.rules_fixtures import rule_make, template_make

pytestmark = [pytest.mark.django_db]


def test_synced_new_mail_runs_the_rules_and_the_history_does_not(imap_account, mailbox, alice):
    template = template_make(imap_account.company, alice)
    rule_make(
        imap_account.company,
        alice,
        conditions={"subject_contains": "urgent", "from_domain": "client.test"},
        actions={"set_category": "complaint", "send_template_reply": True},
        template=template,
    )
    mailbox.append(message(subject="Urgent: old complaint", sender="Carol <carol@client.test>"))

    assert mailbox_sync(account=imap_account).new == 1  # the first sync: the mailbox's history

    [old] = Email.objects.filter(direction="inbound")
    assert EmailThread.objects.get(pk=old.thread_id).category == "primary"
    mailbox.append(message(subject="URGENT: skates broke", sender="Dan <dan@client.test>"))
    mailbox.append(message(subject="Lunch?", sender="Eve <eve@client.test>"))

    assert mailbox_sync(account=imap_account).new == 2

    new = Email.objects.get(subject="URGENT: skates broke")
    assert EmailThread.objects.get(pk=new.thread_id).category == "complaint"
    lunch = Email.objects.get(subject="Lunch?")
    assert EmailThread.objects.get(pk=lunch.thread_id).category == "primary"
    [reply] = Email.objects.filter(direction="outbound")
    assert reply.to_emails == ["dan@client.test"] and reply.reply_to == new
    assert reply.status == "queued"
