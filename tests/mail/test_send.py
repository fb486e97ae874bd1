"""Queuing and sending e-mail against the real aiosmtpd: headers, replies, Bcc, tracking."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError

from hub.domain.emails import sending
from hub.domain.emails.delivery import email_deliver
from hub.domain.emails.hub_models import DeliveryState, EmailDelivery, EmailLink, EmailThreadRef
from hub.domain.emails.models import Email, EmailStatus
from hub.domain.emails.sending import email_send_queue
from hub.domain.emails.services import email_store, email_thread_create
from tests.mail.send_fixtures import globex_account, queue

pytestmark = pytest.mark.django_db


def test_a_queued_email_is_stored_queued_with_its_own_message_id(imap_account):
    email = queue(imap_account, cc=["cc@client.test"], bcc=["boss@acme.test"])

    email.refresh_from_db()
    assert email.status == EmailStatus.QUEUED
    assert email.direction == "outbound"
    assert re.fullmatch(r"<[^@<>\s]+@mail\.test>", email.message_id)
    assert email.from_email == imap_account.email
    assert email.to_emails == ["ann@client.test"]
    assert email.cc_emails == ["cc@client.test"]
    assert email.bcc_emails == ["boss@acme.test"]
    assert EmailDelivery.objects.get(email=email).state == DeliveryState.PENDING
    # A new conversation: its own thread, found again by the Message-ID when a reply comes.
    assert email.thread.participants == [imap_account.email, "ann@client.test", "cc@client.test"]
    assert EmailThreadRef.objects.get(message_id=email.message_id).thread == email.thread
    assert queue(imap_account).message_id != email.message_id


def test_the_send_is_enqueued_only_once_the_transaction_commits(
    imap_account, django_capture_on_commit_callbacks
):
    enqueued: list[int] = []
    sending.email_send_connect(enqueued.append)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            email = queue(imap_account)
            assert enqueued == []
        assert callbacks
        assert enqueued == [email.id]
    finally:
        sending._enqueue_hooks.remove(enqueued.append)


def test_it_is_sent_with_its_headers_and_marked_sent(imap_account, smtp_server, alice):
    alice.first_name, alice.last_name = "Alice", "Smith"
    alice.save()
    email = queue(
        imap_account,
        to=["ann@client.test", "bo@client.test"],
        cc=["cc@client.test"],
        bcc=["boss@acme.test"],
    )

    result = email_deliver(email_id=email.id)

    assert result.outcome == "sent"
    (received,) = smtp_server.wait_for(1)
    message = received.message
    assert message["Message-ID"] == email.message_id
    assert str(message["From"]) == f"Alice Smith <{imap_account.email}>"
    assert str(message["To"]) == "ann@client.test, bo@client.test"
    assert str(message["Cc"]) == "cc@client.test"
    assert message["Subject"] == "Quote for the rocket skates"
    assert message["Date"] is not None
    assert message["In-Reply-To"] is None
    # Bcc: a recipient of the envelope, never a header.
    assert message["Bcc"] is None
    assert b"boss@acme.test" not in received.data
    assert received.mail_from == imap_account.email
    assert sorted(received.rcpt_tos) == sorted(
        ["ann@client.test", "bo@client.test", "cc@client.test", "boss@acme.test"]
    )
    assert message.get_body(("plain",)).get_content().strip() == "Hello Ann, the quote is attached."
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert email.sent_at is not None
    delivery = EmailDelivery.objects.get(email=email)
    assert (delivery.state, delivery.attempts, delivery.last_error) == (DeliveryState.SENT, 1, "")


def test_a_reply_carries_in_reply_to_and_references_and_joins_the_thread(imap_account, smtp_server):
    thread = email_thread_create(account=imap_account, subject="Quote", participants=[])
    parent = email_store(
        account=imap_account,
        thread=thread,
        message_id="<parent@client.test>",
        from_email="ann@client.test",
        from_name="Ann Lee",
        to_emails=[imap_account.email],
        subject="Quote",
        body_text="Can we talk?",
        direction="inbound",
        status="delivered",
        references="<first@client.test> <second@acme.test>",
    )

    reply = email_send_queue(
        account=imap_account, to=["ann@client.test"], subject="", body_text="Sure.", reply_to=parent
    )
    email_deliver(email_id=reply.id)

    assert reply.thread == thread
    assert reply.subject == "Re: Quote"
    assert reply.in_reply_to == "<parent@client.test>"
    assert reply.references == "<first@client.test> <second@acme.test> <parent@client.test>"
    message = smtp_server.wait_for(1)[0].message
    assert message["In-Reply-To"] == "<parent@client.test>"
    assert message["References"].split() == [
        "<first@client.test>",
        "<second@acme.test>",
        "<parent@client.test>",
    ]
    assert message["Message-ID"] == reply.message_id
    thread.refresh_from_db()
    assert thread.message_count == 2
    assert "ann@client.test" in thread.participants


def test_html_is_sent_tracked_and_stored_as_written(imap_account, smtp_server, settings):
    html = (
        '<p>See <a href="https://skates.test/offer?x=1&amp;y=2">the offer</a>, '
        '<a href="mailto:ann@client.test">mail me</a> or '
        '<a href="https://skates.test/offer?x=1&amp;y=2">again</a>.</p>'
    )
    email = queue(imap_account, body_text="", body_html=html)

    email_deliver(email_id=email.id)

    email.refresh_from_db()
    assert email.body_html == html  # what the user wrote
    assert email.body_text == "See the offer, mail me or again."
    (link,) = EmailLink.objects.filter(email=email)
    assert link.url == "https://skates.test/offer?x=1&y=2"
    message = smtp_server.wait_for(1)[0].message
    sent_html = message.get_body(("html",)).get_content()
    assert "skates.test" not in sent_html
    clicks = re.findall(r'href="(https://hub\.example\.test/mail/c/[^"]+)"', sent_html)
    assert len(clicks) == 2 and clicks[0] == clicks[1]
    assert 'href="mailto:ann@client.test"' in sent_html
    assert re.search(r'<img src="https://hub\.example\.test/mail/o/[^"]+\.gif"', sent_html)
    assert message.get_body(("plain",)).get_content().strip() == email.body_text


def test_without_tracking_the_html_goes_as_written(imap_account, smtp_server):
    html = '<p><a href="https://skates.test/">offer</a></p>'
    email = queue(imap_account, body_html=html, track=False)

    email_deliver(email_id=email.id)

    assert not EmailLink.objects.filter(email=email).exists()
    assert not Email.objects.get(pk=email.pk).tracking_enabled
    sent_html = smtp_server.wait_for(1)[0].message.get_body(("html",)).get_content()
    assert sent_html.strip() == html


def test_without_a_public_url_nothing_is_tracked(imap_account, settings):
    settings.HUB_PUBLIC_URL = None
    email = queue(imap_account, body_html='<a href="https://skates.test/">offer</a>')

    assert not email.tracking_enabled
    assert not EmailLink.objects.filter(email=email).exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"to": []}, "at least one recipient"),
        ({"to": ["not an address"]}, "“not an address” is not a valid e-mail address."),
        ({"to": ["ann@client.test\r\nBcc: x@evil.test"]}, "is not a valid e-mail address"),
        ({"cc": ["ann@"]}, "“ann@” is not a valid e-mail address."),
        ({"subject": " "}, "needs a subject"),
        ({"body_text": "", "body_html": ""}, "needs some text"),
    ],
)
def test_bad_input_is_refused_with_a_clear_sentence(imap_account, fields, message):
    with pytest.raises(ValidationError) as refused:
        queue(imap_account, **fields)

    assert message in str(refused.value)
    assert not Email.objects.exists()


def test_a_subject_on_several_lines_is_sent_on_one(imap_account, smtp_server):
    email = queue(imap_account, subject="Quote\r\nBcc: x@evil.test")

    email_deliver(email_id=email.id)

    message = smtp_server.wait_for(1)[0].message
    assert message["Subject"] == "Quote Bcc: x@evil.test"
    assert message["Bcc"] is None
    assert smtp_server.received[0].rcpt_tos == ["ann@client.test"]
    assert email.subject == "Quote Bcc: x@evil.test"


def test_replying_or_threading_across_accounts_is_refused(imap_account, globex, charlie):
    other = globex_account(globex, charlie)
    foreign = queue(other)

    with pytest.raises(ValidationError, match="belongs to another account"):
        queue(imap_account, reply_to=foreign)
    with pytest.raises(ValidationError, match="belongs to another account"):
        queue(imap_account, thread=foreign.thread)
    assert not Email.objects.filter(email_account=imap_account).exists()


def test_the_email_sent_rules_run_once_it_is_sent_and_not_when_it_fails(
    imap_account, smtp_server, acme, alice
):
    from hub.domain.emails.models import EmailRule

    EmailRule.objects.create(
        company=acme,
        name="Label what we send",
        trigger="email_sent",
        conditions={"direction": "outbound"},
        actions={"set_category": "customer"},
        created_by=alice,
    )
    refused = queue(imap_account, subject="Refused")
    smtp_server.refuse("550 5.7.1 No")
    email_deliver(email_id=refused.id)
    sent = queue(imap_account, subject="Taken")

    email_deliver(email_id=sent.id)

    refused.thread.refresh_from_db()
    sent.thread.refresh_from_db()
    assert refused.thread.category == "primary"
    assert sent.thread.category == "customer"
