"""E-mail queued by the CRM (a row written straight into emails_email) is prepared as the hub's
own before the sweep sends it: plain addresses, a Message-ID, its thread and the ids that let a
reply find it, tracked links. One that cannot be prepared is failed with the reason."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from hub.domain.emails.delivery import email_deliver, email_deliveries_adopt
from hub.domain.emails.hub_models import DeliveryState, EmailDelivery, EmailLink, EmailThreadRef
from hub.domain.emails.models import Email, EmailStatus, EmailThread
from hub.domain.emails.services import email_store, email_thread_create
from hub.domain.emails.threads import ThreadItem, threads_assign
from hub.domain.notifications.models import Notification
from tests.factories import EmailFactory

pytestmark = pytest.mark.django_db


def crm_queued(account, **fields) -> Email:
    """A queued outbound row as the CRM writes it: no delivery row, no thread."""
    defaults = {
        "email_account": account,
        "direction": "outbound",
        "status": EmailStatus.QUEUED,
        "from_email": account.email,
        "to_emails": ["buyer@client.test"],
        "subject": "Quote from the CRM",
        "body_text": "Here is the quote.",
        "message_id": "<q1@acme.test>",
    }
    return EmailFactory(**(defaults | fields))


def reply_from_bob(account, in_reply_to: str) -> EmailThread:
    """The thread the sync's threading gives Bob's reply."""
    [item] = items = [
        ThreadItem(
            message_id="<bob-reply@customer.test>",
            in_reply_to=in_reply_to,
            references=[in_reply_to],
            subject="Re: something else entirely",
            participants=["bob@customer.test", account.email],
            at=timezone.now(),
            is_read=False,
            is_starred=False,
        )
    ]
    threads_assign(account=account, items=items)
    assert item.thread is not None
    return item.thread


def test_a_crm_email_is_prepared_like_the_hubs_own_then_sent(imap_account, smtp_server):
    html = '<p>Hello Bob, <a href="https://acme.test/quote/7">the quote</a>.</p>'
    email = crm_queued(
        imap_account,
        to_emails=["Bob Buyer <bob@customer.test>", "bob@customer.test"],
        cc_emails=['"Lee, Ann" <ann@client.test>'],
        body_text="",
        body_html=html,
    )

    assert email_deliveries_adopt() == [email.id]

    email.refresh_from_db()
    assert email.to_emails == ["bob@customer.test"]
    assert email.cc_emails == ["ann@client.test"]
    assert email.body_text == "Hello Bob, the quote."
    thread = email.thread
    assert thread is not None and thread.subject == "Quote from the CRM"
    assert thread.message_count == 1
    assert thread.participants == [imap_account.email, "bob@customer.test", "ann@client.test"]
    assert EmailThreadRef.objects.get(message_id="<q1@acme.test>").thread == thread
    (link,) = EmailLink.objects.filter(email=email)
    assert link.url == "https://acme.test/quote/7"
    assert EmailDelivery.objects.get(email=email).state == DeliveryState.PENDING
    assert email_deliveries_adopt() == []  # a second sweep prepares nothing twice

    assert email_deliver(email_id=email.id).outcome == "sent"

    (received,) = smtp_server.wait_for(1)
    assert sorted(received.rcpt_tos) == ["ann@client.test", "bob@customer.test"]
    assert received.message["Message-ID"] == "<q1@acme.test>"
    sent_html = received.message.get_body(("html",)).get_content()
    assert "acme.test/quote/7" not in sent_html
    assert re.search(r'href="https://hub\.example\.test/mail/c/[^"]+"', sent_html)
    # Bob's reply finds the thread by the Message-ID it answers.
    assert reply_from_bob(imap_account, "<q1@acme.test>") == thread
    thread.refresh_from_db()
    assert thread.message_count == 2


def test_a_crm_reply_joins_its_parents_thread_with_the_headers(imap_account, smtp_server):
    thread = email_thread_create(account=imap_account, subject="Skates", participants=[])
    parent = email_store(
        account=imap_account,
        thread=thread,
        message_id="<ask@client.test>",
        from_email="ann@client.test",
        to_emails=[imap_account.email],
        subject="Skates",
        body_text="How much?",
        direction="inbound",
        status="delivered",
        references="<first@client.test>",
    )
    email = crm_queued(
        imap_account, reply_to=parent, subject="", message_id="crm-reply-1@acme.test"
    )

    assert email_deliveries_adopt() == [email.id]

    email.refresh_from_db()
    assert email.thread == thread
    assert email.subject == "Re: Skates"
    assert email.message_id == "<crm-reply-1@acme.test>"
    assert email.in_reply_to == "<ask@client.test>"
    assert email.references == "<first@client.test> <ask@client.test>"
    thread.refresh_from_db()
    assert thread.message_count == 2
    assert "buyer@client.test" in thread.participants
    email_deliver(email_id=email.id)
    message = smtp_server.wait_for(1)[0].message
    assert message["In-Reply-To"] == "<ask@client.test>"
    assert message["References"].split() == ["<first@client.test>", "<ask@client.test>"]


def test_a_crm_email_citing_a_known_message_joins_that_thread(imap_account):
    synced = reply_from_bob(imap_account, "<older@customer.test>")
    email = crm_queued(imap_account, in_reply_to="<bob-reply@customer.test>", message_id="")

    email_deliveries_adopt()

    email.refresh_from_db()
    assert email.thread == synced
    assert re.fullmatch(r"<[^@<>\s]+@mail\.test>", email.message_id)  # made for it


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"to_emails": ["Bob Buyer <bob@x>"]},
            "“Bob Buyer <bob@x>” is not a valid e-mail address.",
        ),
        (
            {"to_emails": "bob@customer.test"},
            "To must be a list of e-mail addresses, not “bob@customer.test”.",
        ),
        ({"cc_emails": ["ann@"]}, "“ann@” is not a valid e-mail address."),
        ({"message_id": "<not an id>"}, "“<not an id>” is not a Message-ID"),
        ({"subject": " ", "body_text": "x"}, "An e-mail needs a subject."),
    ],
)
def test_a_crm_email_that_cannot_be_prepared_is_failed_with_the_reason(
    imap_account, smtp_server, alice, fields, reason
):
    email = crm_queued(imap_account, **fields)
    good = crm_queued(imap_account, message_id="<good@acme.test>")

    assert email_deliveries_adopt() == [good.id]

    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED and email.thread is None
    delivery = EmailDelivery.objects.get(email=email)
    assert delivery.state == DeliveryState.FAILED
    assert delivery.last_error.startswith("The e-mail cannot be sent: ")
    assert reason in delivery.last_error
    told = Notification.objects.get(user=alice)
    assert reason in told.message
    assert not EmailThreadRef.objects.filter(message_id=email.message_id).exists()
    assert email_deliveries_adopt() == []
    assert email_deliver(email_id=email.id).outcome == "skipped"
    assert email_deliver(email_id=good.id).outcome == "sent"
    assert [r.rcpt_tos for r in smtp_server.wait_for(1)] == [["buyer@client.test"]]


def test_old_rows_are_left_alone(imap_account):
    old = crm_queued(imap_account)
    Email.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))

    assert email_deliveries_adopt() == []
    assert not EmailDelivery.objects.filter(email=old).exists()
