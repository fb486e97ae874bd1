"""Threading of synced mail: References / In-Reply-To first (out-of-order replies too), the
normalized subject as the fallback, and what a thread keeps."""

from __future__ import annotations

import pytest

from hub.domain.emails.models import Email, EmailThread, EmailThreadRef
from hub.domain.emails.sync import mailbox_sync
from tests.mail.sync_fixtures import days_ago, message

pytestmark = [pytest.mark.django_db]


def thread_of(account, subject: str) -> EmailThread:
    thread = Email.objects.get(email_account=account, subject=subject).thread
    assert thread is not None
    return thread


def test_a_reply_that_arrives_before_its_parent_joins_its_thread_in_one_run(imap_account, mailbox):
    parent = message(subject="Pricing", message_id="<p1@client.test>", date=days_ago(2))
    reply = message(
        subject="Re: Pricing",
        message_id="<r1@acme.test>",
        in_reply_to="<p1@client.test>",
        references="<p1@client.test>",
        sender="Dan <dan@acme.test>",
        date=days_ago(1),
    )
    mailbox.append(reply, parent)

    mailbox_sync(account=imap_account)

    thread = thread_of(imap_account, "Pricing")
    assert thread_of(imap_account, "Re: Pricing") == thread
    assert thread.message_count == 2 and EmailThread.objects.count() == 1


def test_a_parent_synced_in_a_later_run_finds_the_reply_thread(imap_account, mailbox):
    mailbox.append(
        message(
            subject="Re: Contract",
            message_id="<r2@acme.test>",
            references="<root@client.test> <p2@client.test>",
            in_reply_to="<p2@client.test>",
        )
    )
    mailbox_sync(account=imap_account)
    first = thread_of(imap_account, "Re: Contract")

    mailbox.append(message(subject="Contract v2", message_id="<p2@client.test>"))
    mailbox.append(message(subject="Contract", message_id="<root@client.test>"))
    mailbox_sync(account=imap_account)

    assert thread_of(imap_account, "Contract v2") == first
    assert thread_of(imap_account, "Contract") == first
    first.refresh_from_db()
    assert first.message_count == 3
    assert set(
        EmailThreadRef.objects.filter(thread=first).values_list("message_id", flat=True)
    ) >= {"<r2@acme.test>", "<p2@client.test>", "<root@client.test>"}


def test_our_reply_in_the_sent_folder_joins_the_inbox_thread(imap_account, mailbox):
    mailbox.append(message(subject="Demo?", message_id="<q@client.test>"))
    mailbox.append(
        message(
            subject="Re: Demo?",
            sender=imap_account.email,
            to="carol@client.test",
            in_reply_to="<q@client.test>",
        ),
        folder="Sent",
    )

    mailbox_sync(account=imap_account)

    assert thread_of(imap_account, "Re: Demo?") == thread_of(imap_account, "Demo?")


def test_without_references_the_normalized_subject_threads(imap_account, mailbox):
    mailbox.append(message(subject="Invoice 2041", date=days_ago(3)))
    mailbox.append(message(subject="RE: [Acme]  invoice   2041", date=days_ago(2)))
    mailbox_sync(account=imap_account)
    mailbox.append(message(subject="Fwd: Re: Invoice 2041", date=days_ago(1)))
    mailbox_sync(account=imap_account)

    thread = thread_of(imap_account, "Invoice 2041")
    assert thread_of(imap_account, "RE: [Acme]  invoice   2041") == thread
    assert thread_of(imap_account, "Fwd: Re: Invoice 2041") == thread
    assert EmailThread.objects.get(pk=thread.pk).message_count == 3


def test_generic_or_stale_subjects_do_not_thread(imap_account, mailbox):
    mailbox.append(message(subject="Hi", body="one\n"), message(subject="Re: hi", body="two\n"))
    mailbox.append(message(subject="Budget", date=days_ago(60)))
    mailbox.append(message(subject="Re: Budget", date=days_ago(2)))

    mailbox_sync(account=imap_account)

    assert thread_of(imap_account, "Hi") != thread_of(imap_account, "Re: hi")
    assert thread_of(imap_account, "Budget") != thread_of(imap_account, "Re: Budget")


def test_a_thread_keeps_participants_count_last_message_and_read_state(imap_account, mailbox):
    mailbox.append(
        message(
            subject="Offer",
            message_id="<o1@client.test>",
            sender="Carol <CAROL@client.test>",
            to=f"{imap_account.email}, Erin <erin@client.test>",
            date=days_ago(5),
        ),
        flags=[b"\\Seen"],
    )
    mailbox.append(
        message(
            subject="Re: Offer",
            in_reply_to="<o1@client.test>",
            sender="Erin <erin@client.test>",
            to="carol@client.test",
            cc="Frank <frank@client.test>",
            date=days_ago(4),
        )
    )

    mailbox_sync(account=imap_account)

    thread = thread_of(imap_account, "Offer")
    assert thread.participants == [
        "carol@client.test",
        imap_account.email,
        "erin@client.test",
        "frank@client.test",
    ]
    assert thread.message_count == 2 and not thread.is_read
    assert thread.last_message_at == Email.objects.get(subject="Re: Offer").sent_at
    assert (thread.subject, thread.company_id, thread.email_account_id) == (
        "Offer",
        imap_account.company_id,
        imap_account.pk,
    )


def test_the_same_subject_from_strangers_makes_two_threads(imap_account, mailbox):
    me = imap_account.email
    mailbox.append(
        message(subject="Pricing for 20 seats", sender="Ann <ann@a.test>", to=me, date=days_ago(3))
    )
    mailbox_sync(account=imap_account)
    mailbox.append(
        message(subject="Pricing for 20 seats", sender="Zed <zed@z.test>", to=me, date=days_ago(2))
    )
    mailbox_sync(account=imap_account)

    ann, zed = Email.objects.filter(subject="Pricing for 20 seats").order_by("sent_at")
    assert ann.thread_id != zed.thread_id
    assert EmailThread.objects.get(pk=zed.thread_id).participants == ["zed@z.test", me]


def test_a_customers_follow_up_and_our_sent_mail_join_her_thread_by_subject(imap_account, mailbox):
    me = imap_account.email
    mailbox.append(
        message(subject="Pricing for 20 seats", sender="Ann <ann@a.test>", to=me, date=days_ago(4)),
        message(subject="Pricing for 20 seats", sender="Zed <zed@z.test>", to=me, date=days_ago(3)),
    )
    mailbox_sync(account=imap_account)
    # No References: a follow-up written afresh, and our answer from another mail client.
    mailbox.append(
        message(subject="RE: pricing for 20 seats", sender="ANN@a.test", to=me, date=days_ago(2))
    )
    mailbox.append(
        message(subject="Re: Pricing for 20 seats", sender=me, to="ann@a.test", date=days_ago(1)),
        folder="Sent",
    )
    mailbox_sync(account=imap_account)

    first = Email.objects.get(subject="Pricing for 20 seats", from_email="ann@a.test")
    zeds = Email.objects.get(from_email="zed@z.test")
    assert Email.objects.get(subject="RE: pricing for 20 seats").thread_id == first.thread_id
    assert Email.objects.get(subject="Re: Pricing for 20 seats").thread_id == first.thread_id
    thread = EmailThread.objects.get(pk=first.thread_id)
    assert thread.message_count == 3 and zeds.thread_id != thread.pk
    assert EmailThread.objects.get(pk=zeds.thread_id).message_count == 1
