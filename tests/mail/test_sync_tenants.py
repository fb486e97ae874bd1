"""Tenant isolation of the sync: the same message in two companies' mailboxes is stored for
each account, in each account's own thread."""

from __future__ import annotations

import pytest

from hub.domain.emails.models import Email, EmailThread, EmailThreadRef
from hub.domain.emails.sync import mailbox_sync
from tests.mail import sync_fixtures
from tests.mail.sync_fixtures import account_on, message

pytestmark = [pytest.mark.django_db]
second_mailbox = sync_fixtures.second_mailbox  # the fixture, for this module's tests


def test_one_message_mailed_to_two_tenants_is_stored_for_each(
    imap_account, mailbox, second_mailbox, globex, charlie
):
    other = account_on(second_mailbox, company=globex, user=charlie)
    root = message(subject="Partnership", message_id="<shared@client.test>")
    reply = message(subject="Re: Partnership", in_reply_to="<shared@client.test>")
    mailbox.append(root, reply)
    second_mailbox.append(root, reply)

    assert mailbox_sync(account=imap_account).new == 2
    assert mailbox_sync(account=other).new == 2

    ours = Email.objects.filter(email_account=imap_account)
    theirs = Email.objects.filter(email_account=other)
    assert ours.get(subject="Partnership").message_id == "<shared@client.test>"
    assert theirs.get(subject="Partnership").message_id == "<shared@client.test>"
    our_threads = set(ours.values_list("thread_id", flat=True))
    their_threads = set(theirs.values_list("thread_id", flat=True))
    assert len(our_threads) == len(their_threads) == 1 and not our_threads & their_threads
    assert EmailThread.objects.get(pk=our_threads.pop()).company_id == imap_account.company_id
    assert EmailThread.objects.get(pk=their_threads.pop()).company_id == globex.pk
    assert EmailThreadRef.objects.filter(message_id="<shared@client.test>").count() == 2


def test_a_subject_never_threads_across_accounts(imap_account, mailbox, second_mailbox, acme, bob):
    other = account_on(second_mailbox, company=acme, user=bob)
    mailbox.append(message(subject="Renewal terms"))
    second_mailbox.append(message(subject="Re: Renewal terms"))

    mailbox_sync(account=imap_account)
    mailbox_sync(account=other)

    mine = Email.objects.get(email_account=imap_account).thread
    bobs = Email.objects.get(email_account=other).thread
    assert mine != bobs and bobs.email_account_id == other.pk and mine.message_count == 1
