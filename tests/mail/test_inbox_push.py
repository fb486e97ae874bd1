"""A stored message reaches its account owner's websocket as email.created, and no one else's."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from hub.domain.authentication.services import company_user_add
from hub.domain.emails.services import email_store, email_thread_create
from hub.domain.notifications.services import notification_create
from tests import factories
from tests.realtime.conftest import event_pipeline  # noqa: F401 - the relay, autouse here too
from tests.realtime.helpers import connect_as

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def people():
    """bob's mailbox at Acme; alice is Acme's CEO, charlie is at Globex."""
    acme, globex = factories.CompanyFactory(), factories.CompanyFactory()
    alice, bob, charlie = acme.created_by, factories.UserFactory(), globex.created_by
    company_user_add(company=acme, user=alice, role="ceo")
    company_user_add(company=acme, user=bob, role="sales_manager")
    company_user_add(company=globex, user=charlie, role="ceo")
    account = factories.EmailAccountFactory(company=acme, user=bob, email="bob@acme.test")
    return account, alice, bob, charlie


@database_sync_to_async
def store_message(account):
    thread = email_thread_create(
        account=account, subject="Quote for 40 seats", participants=["ann@client.test"]
    )
    email = email_store(
        account=account,
        thread=thread,
        message_id="<quote-1@client.test>",
        from_email="ann@client.test",
        from_name="Ann Lee",
        to_emails=["bob@acme.test"],
        subject="Quote for 40 seats",
        body_text="Hello Bob,\n\n  could you send   the quote\tagain?\n" + "x" * 400,
        direction="inbound",
        status="delivered",
        sent_at=timezone.now(),
    )
    return thread, email


@database_sync_to_async
def sentinel(user):
    return notification_create(user=user, title="sentinel", message="end")


async def next_event(comm, timeout=10):
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame["type"] == "event":
            return frame


async def test_a_stored_message_reaches_its_owner_only_with_thread_sender_and_snippet():
    account, alice, bob, charlie = await people()
    owner, _ = await connect_as(bob.id)
    ceo, _ = await connect_as(alice.id)
    outsider, _ = await connect_as(charlie.id)
    try:
        thread, email = await store_message(account)

        frame = await next_event(owner)
        assert (frame["topic"], frame["event"]) == ("emails", "email.created")
        data = frame["data"]
        assert data["id"] == email.id
        assert data["thread_id"] == thread.id
        assert data["email_account_id"] == account.id
        assert (data["from_email"], data["from_name"]) == ("ann@client.test", "Ann Lee")
        assert data["subject"] == "Quote for 40 seats"
        assert data["direction"] == "inbound"
        assert data["snippet"].startswith("Hello Bob, could you send the quote again? xxx")
        assert len(data["snippet"]) == 160

        # Mail is personal: the company's CEO and another company's member get their own
        # next event (a sentinel), not the message.
        for user, comm in ((alice, ceo), (charlie, outsider)):
            note = await sentinel(user)
            frame = await next_event(comm)
            assert frame["event"] == "notification.created", frame
            assert frame["data"]["id"] == str(note.id)
    finally:
        for comm in (owner, ceo, outsider):
            await comm.disconnect()
