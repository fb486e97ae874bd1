"""``manage.py sync_email`` and the sync actors (``mail_sync_all``, ``mail_sync_account``)."""

from __future__ import annotations

import io
from datetime import timedelta

import dramatiq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from django_dramatiq.middleware import DbConnectionsMiddleware
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Callbacks, Retries, TimeLimit

from hub.domain.emails.models import Email, EmailSyncLog, MailSyncState
from hub.domain.emails.services import email_account_set_password
from hub.domain.emails.sync_state import sync_lease_claim
from hub.workers import mail_send, mail_sync
from tests.mail import sync_fixtures
from tests.mail.sync_fixtures import account_on, message

pytestmark = [pytest.mark.django_db]
second_mailbox = sync_fixtures.second_mailbox


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*args: str, stderr: io.StringIO | None = None) -> tuple[str, str]:
    out, err = io.StringIO(), stderr or io.StringIO()
    call_command("sync_email", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_syncs_and_prints_what_it_imported(imap_account, mailbox):
    mailbox.append(message(subject="One"), message(subject="Two"), b"garbage \xff\x00")
    mailbox.append(message(subject="Mine", sender=imap_account.email), folder="Sent")

    out, err = run(str(imap_account.pk))

    lines = out.splitlines()
    assert lines[0] == f"sync_email: {imap_account.email} (account {imap_account.pk}), 127.0.0.1"
    assert lines[1].startswith("INBOX: 3 new, 0 duplicates, 0 flags updated, ")
    assert lines[1].endswith(" broken (from the sync window)") and "0 broken" not in lines[1]
    assert lines[2] == "Sent: 1 new, 0 duplicates, 0 flags updated, 0 broken (from the sync window)"
    log = EmailSyncLog.objects.get()
    assert lines[3] == f"sync log {log.pk}: completed, 4 new"
    assert err.splitlines() == ["INBOX: 0/3", "INBOX: 3/3", "Sent: 0/1", "Sent: 1/1"]
    assert Email.objects.filter(email_account=imap_account).count() == 4

    mailbox.append(message(subject="Three"))
    out, _ = run(str(imap_account.pk))
    assert "INBOX: 1 new, 0 duplicates, 0 flags updated, 0 broken" in out.splitlines()


def test_on_a_terminal_the_command_shows_a_progress_bar(imap_account, mailbox):
    mailbox.append(*[message(subject=f"M{i}") for i in range(3)])
    terminal = Terminal()

    run(str(imap_account.pk), stderr=terminal)

    assert "INBOX: 100%" in terminal.getvalue() and "3/3" in terminal.getvalue()


def test_the_command_fails_with_the_reason(imap_account):
    email_account_set_password(account=imap_account, password="not-it")

    with pytest.raises(CommandError) as failed:
        run(str(imap_account.pk))

    assert str(failed.value).startswith("The sync failed: The IMAP server 127.0.0.1:")
    assert "refused the login" in str(failed.value) and failed.value.returncode == 1


def test_the_command_refuses_an_unknown_account_and_a_running_sync(imap_account):
    with pytest.raises(CommandError, match=r"There is no e-mail account 987654\."):
        run("987654")

    sync_lease_claim(account=imap_account)
    with pytest.raises(CommandError, match=f"A sync of account {imap_account.pk} is already"):
        run(str(imap_account.pk))
    assert not EmailSyncLog.objects.exists()


@pytest.fixture
def broker():
    """The sync actors on a stub broker, with the project's middleware that matters here."""
    stub = StubBroker(middleware=[TimeLimit(), Callbacks(), Retries(), DbConnectionsMiddleware()])
    actors = (mail_sync.mail_sync_all, mail_sync.mail_sync_account)
    originals = {a: a.broker for a in actors}
    for actor in actors:
        actor.broker = stub
        stub.declare_actor(actor)
    yield stub
    for actor, original in originals.items():
        actor.broker = original


def queued(broker) -> list[tuple[str, dict]]:
    return [
        (m.actor_name, m.kwargs)
        for m in (Message.decode(data) for data in list(broker.queues[mail_sync.QUEUE].queue))
    ]


def test_the_scheduler_tick_enqueues_each_account_due(
    broker, imap_account, second_mailbox, acme, bob, globex, charlie
):
    held = account_on(second_mailbox, company=acme, user=bob)
    sync_lease_claim(account=held)
    off = account_on(second_mailbox, company=globex, user=charlie, sync_enabled=False)
    account_on(second_mailbox, company=globex, user=charlie, email="x@x.test", is_active=False)
    no_imap = account_on(second_mailbox, company=globex, user=charlie, email="y@y.test")
    no_imap.imap_host = ""
    no_imap.save(update_fields=["imap_host"])
    assert off.pk

    mail_sync.mail_sync_all()

    [(actor, kwargs)] = queued(broker)
    assert actor == "mail_sync_account" and kwargs["account_id"] == imap_account.pk
    # The queued run holds the account's lease already, under the token it carries.
    state = MailSyncState.objects.get(account=imap_account)
    assert state.lease_token == kwargs["lease"] and state.lease_until > timezone.now()


def test_the_sync_actors_have_their_own_queue_behind_sending(broker):
    assert mail_sync.QUEUE == "mail_sync" != mail_send.QUEUE
    for actor in (mail_sync.mail_sync_all, mail_sync.mail_sync_account):
        assert actor.queue_name == "mail_sync"
        assert actor.priority > mail_send.mail_send.priority  # Dramatiq runs lower first


def test_a_tick_queues_nothing_more_for_an_account_already_queued(broker, imap_account, mailbox):
    mailbox.append(message(subject="Once"))

    mail_sync.mail_sync_all()
    mail_sync.mail_sync_all()
    mail_sync.mail_sync_all()

    [(_, kwargs)] = queued(broker)
    mail_sync.mail_sync_account(**kwargs)  # the worker runs it: it takes the lease over
    assert Email.objects.get(email_account=imap_account).subject == "Once"
    assert EmailSyncLog.objects.get().status == "completed"
    assert MailSyncState.objects.get(account=imap_account).lease_until is None
    # Done: the next tick queues it again.
    broker.flush_all()
    mail_sync.mail_sync_all()
    assert [k["account_id"] for _, k in queued(broker)] == [imap_account.pk]


def test_a_queued_run_whose_lease_ran_out_and_was_claimed_again_does_nothing(
    broker, imap_account, mailbox
):
    mailbox.append(message(subject="Once"))
    mail_sync.mail_sync_all()
    [(_, stale)] = queued(broker)
    # The message waited longer than the lease: the next tick claims the lease again.
    MailSyncState.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    broker.flush_all()
    mail_sync.mail_sync_all()
    [(_, fresh)] = queued(broker)
    assert fresh["lease"] != stale["lease"]

    mail_sync.mail_sync_account(**stale)

    assert not EmailSyncLog.objects.exists() and not Email.objects.exists()
    assert MailSyncState.objects.get(account=imap_account).lease_token == fresh["lease"]
    mail_sync.mail_sync_account(**fresh)
    assert Email.objects.get().subject == "Once"


def test_a_run_asked_for_by_hand_while_one_is_queued_leaves_it_to_the_queued_one(
    broker, imap_account, mailbox
):
    mailbox.append(message())
    mail_sync.mail_sync_all()

    mail_sync.mail_sync_account(imap_account.pk)  # the admin's "Sync now": no token

    assert not EmailSyncLog.objects.exists()
    [(_, kwargs)] = queued(broker)
    mail_sync.mail_sync_account(**kwargs)
    assert EmailSyncLog.objects.get().emails_synced == 1


def test_the_account_actor_skips_an_account_that_stopped_syncing(imap_account, mailbox):
    mailbox.append(message())
    imap_account.sync_enabled = False
    imap_account.save(update_fields=["sync_enabled"])

    mail_sync.mail_sync_account(imap_account.pk)

    assert not EmailSyncLog.objects.exists() and not Email.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_queued_sync(broker, imap_account, mailbox):
    mailbox.append(message(subject="Via the worker"))
    threads = 2 if connection.vendor == "postgresql" else 1
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=50)
    worker.start()
    try:
        mail_sync.mail_sync_all()
        broker.join(mail_sync.QUEUE, fail_fast=True, timeout=30_000)
        worker.join()
    finally:
        worker.stop()

    assert Email.objects.get(email_account=imap_account).subject == "Via the worker"
    assert EmailSyncLog.objects.get().status == "completed"
