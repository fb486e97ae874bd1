"""email_store keeps its thread's count and time in step, whoever stores the message."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from hub.domain.emails.models import EmailThread
from hub.domain.emails.services import email_store, email_thread_create
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_stored_message_moves_its_thread_forward_never_back(acme, alice):
    account = factories.EmailAccountFactory(company=acme, user=alice)
    then = timezone.now() - timedelta(days=2)
    thread = email_thread_create(account=account, subject="Quote", last_message_at=then)

    def store(n: int, at):
        email_store(
            account=account,
            thread=thread,
            message_id=f"<m{n}@client.test>",
            from_email="buyer@client.test",
            subject="Re: Quote",
            body_text="ok",
            direction="inbound",
            sent_at=at,
        )
        return EmailThread.objects.get(pk=thread.pk)

    later = store(1, then + timedelta(days=1))
    assert (later.message_count, later.last_message_at) == (1, then + timedelta(days=1))
    older = store(2, then - timedelta(days=5))  # an old message found late
    assert (older.message_count, older.last_message_at) == (2, then + timedelta(days=1))
