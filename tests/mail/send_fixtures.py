"""Fixtures and helpers of the sending and tracking tests (H4's area)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dramatiq
import pytest
from django.db import connection
from django_dramatiq.middleware import DbConnectionsMiddleware
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Retries, TimeLimit

from hub.domain.emails import delivery
from hub.domain.emails.models import Email, EmailAccount, EmailTemplate
from hub.domain.emails.sending import email_send_queue
from hub.domain.emails.services import email_account_create
from hub.workers import mail_send as actors


@pytest.fixture
def quick_retries(monkeypatch):
    """Retries after milliseconds instead of 15 s and more."""
    monkeypatch.setattr(delivery, "RETRY_BACKOFF_SECONDS", 0.02)


def queue(account, **fields) -> Email:
    """Queue an e-mail from ``account`` (its send is not enqueued: the test delivers it)."""
    defaults = {
        "to": ["ann@client.test"],
        "subject": "Quote for the rocket skates",
        "body_text": "Hello Ann, the quote is attached.",
    }
    return email_send_queue(account=account, **(defaults | fields))


def globex_account(globex, charlie) -> EmailAccount:
    """charlie's SMTP account at Globex: another company's mailbox."""
    return email_account_create(
        company=globex,
        user=charlie,
        email="charlie@globex.test",
        provider="smtp",
        username="charlie@globex.test",
        password="secret-password",
        smtp_host="127.0.0.1",
        smtp_port=2525,
    )


def template_for(account, **fields) -> EmailTemplate:
    defaults = {
        "company": account.company,
        "created_by": account.user,
        "name": "Follow-up",
        "category": "deal",
        "subject": "{{deal_title}} for {{customer_name}}",
        "body_html": "<p>Hi {{customer_name}},</p><p>{{user_name}} at {{company_name}}.</p>",
        "body_text": "Hi {{customer_name}}, {{user_name}} at {{company_name}} about {{deal_title}}.",
    }
    return EmailTemplate.objects.create(**(defaults | fields))


class SendWorker:
    """The mail actors on a fresh stub broker, and a real Dramatiq worker to run them."""

    def __init__(self) -> None:
        self.actors = [actors.mail_send, actors.mail_send_sweep]
        self.originals = [(actor, actor.broker) for actor in self.actors]
        self.broker = StubBroker(
            middleware=[AgeLimit(), TimeLimit(), Callbacks(), Retries(), DbConnectionsMiddleware()]
        )
        for actor in self.actors:
            actor.broker = self.broker
            self.broker.declare_actor(actor)

    def queued(self) -> int:
        return self.broker.queues[actors.QUEUE].qsize()

    @contextmanager
    def running(self) -> Iterator[dramatiq.Worker]:
        # The in-memory SQLite test database takes one writer at a time and does not wait.
        threads = 4 if connection.vendor == "postgresql" else 1
        worker = dramatiq.Worker(self.broker, worker_threads=threads, worker_timeout=20)
        worker.start()
        try:
            yield worker
        finally:
            worker.stop()

    def join(self) -> None:
        """Wait until every message (delayed ones too) has run, failing on an actor's error."""
        self.broker.join(actors.QUEUE, timeout=30_000, fail_fast=True)

    def close(self) -> None:
        self.broker.close()
        for actor, original in self.originals:
            actor.broker = original


@pytest.fixture
def send_worker() -> Iterator[SendWorker]:
    worker = SendWorker()
    yield worker
    worker.close()
