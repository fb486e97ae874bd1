"""A sync that cannot run: refused login, unreachable server, undecryptable credential (the owner
told once per failing spell), and the lease that keeps one run per account."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from hub.domain.emails.models import Email, EmailSyncLog, MailSyncState
from hub.domain.emails.services import email_account_set_password
from hub.domain.emails.sync import accounts_to_sync, mailbox_sync, sync_retry_delay
from hub.domain.emails.sync_state import sync_lease_claim
from hub.domain.notifications.models import Notification
from tests.mail.sync_fixtures import message

pytestmark = [pytest.mark.django_db]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_login_fails_the_run_and_tells_the_owner_once_per_spell(
    imap_account, mailbox, alice, bob
):
    email_account_set_password(account=imap_account, password="wrong-Pa55word-x")

    first = mailbox_sync(account=imap_account)
    second = mailbox_sync(account=imap_account)

    assert first.status == second.status == "failed"
    assert first.error == (
        f"The IMAP server 127.0.0.1:{mailbox.port} refused the login ([AUTHENTICATIONFAILED] "
        "Authentication failed.): check the user name and password."
    )
    log = EmailSyncLog.objects.get(pk=first.log_id)
    assert (log.status, log.error_message) == ("failed", first.error)
    assert log.sync_completed_at is not None
    [notice] = Notification.objects.filter(user=alice)
    assert notice.type == "warning" and imap_account.email in notice.title
    assert first.error in notice.message
    assert not Notification.objects.filter(user=bob).exists()
    state = MailSyncState.objects.get(account=imap_account)
    assert state.failing_since and state.owner_notified_at and state.last_error == first.error
    assert state.lease_until is None
    imap_account.refresh_from_db()
    assert imap_account.last_sync is None

    email_account_set_password(account=imap_account, password=mailbox.password)
    assert mailbox_sync(account=imap_account).status == "completed"
    state.refresh_from_db()
    assert (state.failing_since, state.owner_notified_at, state.last_error) == (None, None, "")

    email_account_set_password(account=imap_account, password="wrong-again")
    mailbox_sync(account=imap_account)
    assert Notification.objects.filter(user=alice).count() == 2


def test_an_unreachable_server_fails_with_a_clear_reason(imap_account, alice):
    imap_account.imap_port = closed_port()
    imap_account.save(update_fields=["imap_port"])

    result = mailbox_sync(account=imap_account)

    assert result.status == "failed"
    assert result.error == (
        f"The IMAP server 127.0.0.1:{imap_account.imap_port} could not be reached "
        "(Connection refused)."
    )
    assert Notification.objects.filter(user=alice).count() == 1


def test_a_credential_that_cannot_be_decrypted_fails_the_run(imap_account, settings, alice):
    from cryptography.fernet import Fernet

    settings.EMAIL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the old key is lost

    result = mailbox_sync(account=imap_account)

    assert result.status == "failed" and "cannot be decrypted" in result.error
    assert Notification.objects.filter(user=alice).count() == 1


def test_a_held_lease_means_already_running_without_a_log(imap_account, mailbox):
    mailbox.append(message())
    assert sync_lease_claim(account=imap_account) is not None

    result = mailbox_sync(account=imap_account)

    assert result.status == "already_running" and result.log_id is None
    assert not EmailSyncLog.objects.exists() and not Email.objects.exists()
    # A lease whose holder died (past its end) is taken over.
    MailSyncState.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    assert mailbox_sync(account=imap_account).new == 1


def test_a_run_that_lost_its_lease_stops_and_keeps_only_committed_batches(
    imap_account, mailbox, settings
):
    settings.HUB_EMAIL_SYNC_BATCH_SIZE = 2
    mailbox.append(*[message(subject=f"M{i}") for i in range(4)])

    def taken_over(folder, done, total):
        if done == 2:  # another run took the account (this one outlived its lease)
            MailSyncState.objects.update(lease_token="someone-else")

    result = mailbox_sync(account=imap_account, progress=taken_over)

    assert result.status == "failed" and "took this account over" in result.error
    assert Email.objects.count() == 2
    assert not Notification.objects.exists()  # not the owner's business


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_one_syncs_and_the_other_says_already_running(imap_account, mailbox):
    mailbox.append(message(subject="Once"))
    first_started, second_done = threading.Event(), threading.Event()
    results = {}

    def first_run():
        def hold(folder, done, total):
            first_started.set()
            second_done.wait(30)

        try:
            results["first"] = mailbox_sync(account=imap_account, progress=hold)
        finally:
            connection.close()

    worker = threading.Thread(target=first_run)
    worker.start()
    assert first_started.wait(30)
    try:
        results["second"] = mailbox_sync(account=imap_account)
    finally:
        second_done.set()
        worker.join(30)

    assert results["second"].status == "already_running"
    assert results["first"].status == "completed" and results["first"].new == 1
    assert Email.objects.filter(subject="Once").count() == 1
    assert EmailSyncLog.objects.count() == 1


# The scheduler's backoff after failed runs -----------------------------------------------


def fail(account) -> EmailSyncLog:
    result = mailbox_sync(account=account)
    assert result.status == "failed" and result.log_id is not None
    return EmailSyncLog.objects.get(pk=result.log_id)


def due(account, *, at) -> bool:
    return accounts_to_sync(now=at).filter(pk=account.pk).exists()


def test_a_failing_account_waits_twice_as_long_after_each_failure(imap_account, alice):
    imap_account.imap_port = closed_port()
    imap_account.save(update_fields=["imap_port"])
    assert due(imap_account, at=timezone.now())

    waits = []
    for _ in range(8):
        last = fail(imap_account).sync_completed_at
        assert not due(imap_account, at=last + timedelta(seconds=1))
        # The first minute past the wait it is due again: find the wait to the minute.
        minutes = next(m for m in range(1, 70) if due(imap_account, at=last + timedelta(minutes=m)))
        waits.append(minutes)

    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert Notification.objects.filter(user=alice).count() == 1  # still told once


def test_runs_asked_for_by_hand_are_not_held_back(imap_account, mailbox):
    mailbox.append(message(subject="By hand"))
    imap_account.imap_port = closed_port()
    imap_account.save(update_fields=["imap_port"])
    for _ in range(3):
        fail(imap_account)
    assert not due(imap_account, at=timezone.now())
    imap_account.imap_port = mailbox.port
    imap_account.save(update_fields=["imap_port"])

    # manage.py sync_email and the admin's "Sync now" call the sync without the scheduler.
    result = mailbox_sync(account=imap_account)

    assert result.status == "completed" and result.new == 1
    assert due(imap_account, at=timezone.now())  # a success ends the spell
    imap_account.imap_port = closed_port()
    imap_account.save(update_fields=["imap_port"])
    last = fail(imap_account).sync_completed_at  # a new spell counts from one
    assert due(imap_account, at=last + timedelta(minutes=1, seconds=1))


def test_a_new_password_is_tried_at_once_and_counted_afresh(imap_account, mailbox, encryption_key):
    from cryptography.fernet import Fernet

    # The password was stored a minute ago (a Fernet token carries the time it was made).
    imap_account.password = (
        Fernet(encryption_key).encrypt_at_time(b"secret", int(time.time()) - 60).decode()
    )
    imap_account.imap_port = closed_port()
    imap_account.save(update_fields=["imap_port", "password"])
    for _ in range(7):
        fail(imap_account)
    # The failures were a few seconds ago (a new password is told apart by the second).
    earlier = timedelta(seconds=5)
    EmailSyncLog.objects.update(
        sync_started_at=F("sync_started_at") - earlier,
        sync_completed_at=F("sync_completed_at") - earlier,
    )
    MailSyncState.objects.update(failing_since=F("failing_since") - earlier)
    assert not due(imap_account, at=timezone.now() + timedelta(minutes=59))

    email_account_set_password(account=imap_account, password="a-new-Pa55word")

    assert due(imap_account, at=timezone.now())
    last = fail(imap_account).sync_completed_at  # the new password's first failure
    assert not due(imap_account, at=last + timedelta(seconds=59))
    assert due(imap_account, at=last + timedelta(minutes=1, seconds=1))


def test_the_retry_delay_doubles_up_to_an_hour():
    assert [sync_retry_delay(n).total_seconds() / 60 for n in range(0, 10)] == [
        1,
        1,
        2,
        4,
        8,
        16,
        32,
        60,
        60,
        60,
    ]
    assert sync_retry_delay(10_000) == timedelta(hours=1)
