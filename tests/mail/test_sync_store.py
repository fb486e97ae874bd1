"""Storing what a sync fetched when the mail does not fit: UIDs over 2^31-1, a message the
database refuses (skipped, never stopping the mailbox), a message over the size limit; and the
runs around it: a crashed run's log, an internal error told to the owner once."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from hub.domain.emails.models import Email, EmailSyncLog, MailFolderCursor, MailSyncState
from hub.domain.emails.sync import mailbox_sync
from hub.domain.emails.sync_state import (
    CRASHED,
    INTERNAL_ERROR,
    sync_run_finish,
    sync_run_start,
)
from hub.domain.notifications.models import Notification
from tests.mail.sync_fixtures import message

pytestmark = [pytest.mark.django_db]


def poison(prefix: str = "Poison", *, table: str = "emails_email", column: str = "subject"):
    """Make the database itself refuse to insert a row whose ``column`` starts with ``prefix``
    (a trigger, gone with the test's transaction), as a value out of range or a bad byte would."""
    name = f"test_poison_{table}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.{column} LIKE '{prefix}%' THEN RAISE EXCEPTION 'poisoned row' "
                "USING ERRCODE = '22000'; END IF; RETURN NEW; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {name}()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN NEW.{column} LIKE "
                f"'{prefix}%' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"
            )


def inbox_cursor(account) -> MailFolderCursor:
    return MailFolderCursor.objects.get(account=account, role="inbox")


def test_uids_over_2_31_are_stored_without_uid_and_never_stop_the_mailbox(
    imap_account, mailbox, dovecot
):
    dovecot.doveadm(
        "mailbox", "update", "-u", mailbox.address, "--min-next-uid", "3000000000", "INBOX"
    )
    mailbox.append(message(subject="Big one"), message(subject="Big two"))

    first = mailbox_sync(account=imap_account)

    assert first.status == "completed" and (first.new, first.broken) == (2, 0)
    assert list(Email.objects.order_by("subject").values_list("subject", "uid")) == [
        ("Big one", None),
        ("Big two", None),
    ]
    assert inbox_cursor(imap_account).last_uid >= 3_000_000_001
    with mailbox.client() as imap:
        imap.select_folder("INBOX")
        imap.add_flags(imap.search("ALL"), [b"\\Seen"])
    mailbox.append(message(subject="Big three"))

    second = mailbox_sync(account=imap_account)

    assert second.status == "completed" and second.new == 1
    # Flags follow by UID: a message stored without one keeps the flags it came with.
    assert not Email.objects.get(subject="Big one").is_read


def test_a_message_the_database_refuses_is_skipped_and_the_rest_of_its_batch_stored(
    imap_account, mailbox, caplog
):
    poison()
    mailbox.append(
        message(subject="Before"), message(subject="Poison pill"), message(subject="After")
    )

    with caplog.at_level(logging.WARNING, logger="hub.domain.emails.sync_store"):
        first = mailbox_sync(account=imap_account)

    assert first.status == "completed"
    assert (first.new, first.broken) == (2, 1)
    assert set(Email.objects.values_list("subject", flat=True)) == {"Before", "After"}
    assert inbox_cursor(imap_account).last_uid == 3
    [skipped] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "UID 2 that could not be stored" in skipped.getMessage()
    assert "poison" in skipped.getMessage().lower()
    # Skipped for good: the next run neither retries it nor stops on it.
    mailbox.append(message(subject="Later"))
    second = mailbox_sync(account=imap_account)
    assert second.status == "completed" and (second.new, second.broken) == (1, 0)


def test_a_batch_whose_every_message_fails_fails_the_run_and_keeps_its_place(imap_account, mailbox):
    poison("")  # every message: the database's fault, not the mail's
    mailbox.append(message(subject="One"), message(subject="Two"))

    try:
        result = mailbox_sync(account=imap_account)
    except DatabaseError:  # the run fails as an internal error (raised again to the worker)
        result = None

    assert result is None or result.status == "failed"
    assert not Email.objects.exists()
    assert inbox_cursor(imap_account).last_uid == 0
    assert EmailSyncLog.objects.get().status == "failed"


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def with_attachment(subject: str, file_name: str) -> bytes:
    msg = message_from_bytes(message(subject=subject), policy=default)
    msg.add_attachment(b"%PDF-1.4 quote", maintype="application", subtype="pdf", filename=file_name)
    return msg.as_bytes()


def test_files_of_a_batch_that_rolled_back_are_deleted(imap_account, mailbox, media_root):
    # The second message fails after the first one's attachment was written to storage.
    poison("poison", table="emails_emailattachment", column="file_name")
    mailbox.append(with_attachment("Quote", "quote.pdf"), with_attachment("Bad", "poison.pdf"))

    result = mailbox_sync(account=imap_account)

    assert (result.new, result.broken) == (1, 1)
    quote = Email.objects.get(subject="Quote")
    [row] = quote.attachments.all()
    files = [p.relative_to(media_root).as_posix() for p in media_root.rglob("*") if p.is_file()]
    assert files == [row.file_path.name]


def test_a_message_over_the_size_limit_is_stored_from_what_was_fetched(
    imap_account, mailbox, settings, caplog
):
    settings.HUB_EMAIL_MESSAGE_MAX_BYTES = 100_000
    msg = message_from_bytes(
        message(subject="Site photos", body="Here they are.\n"), policy=default
    )
    msg.add_attachment(b"P" * 150_000, maintype="application", subtype="zip", filename="site.zip")
    mailbox.append(msg.as_bytes(), message(subject="Small"))
    with mailbox.client() as imap:
        imap.select_folder("INBOX")
        size = imap.fetch([1], ["RFC822.SIZE"])[1][b"RFC822.SIZE"]

    with caplog.at_level(logging.WARNING, logger="hub.domain.emails.sync_store"):
        result = mailbox_sync(account=imap_account)

    assert result.status == "completed" and (result.new, result.broken) == (2, 1)
    email = Email.objects.get(subject="Site photos")
    assert re.fullmatch(
        f"This message is {round(size / 1024)} KB, larger than the hub stores "
        r"\(HUB_EMAIL_MESSAGE_MAX_BYTES\); open it in your mail client. Its attachments, not "
        r"stored: site.zip \(14[4-9] KB\).\n\nHere they are.\n",
        email.body_text,
    )
    assert email.has_attachments and not email.attachments.exists() and email.uid == 1
    assert not Email.objects.get(subject="Small").has_attachments
    [logged] = caplog.records
    assert "UID 1" in logged.getMessage() and f"{size} bytes" in logged.getMessage()
    assert "Here they are" not in logged.getMessage()


def test_a_run_that_takes_over_a_dead_runs_lease_fails_its_log(imap_account, mailbox):
    mailbox.append(message())
    started = sync_run_start(account=imap_account)
    assert started is not None
    _, dead = started  # the worker dies here: its log says "running", its lease runs out

    assert mailbox_sync(account=imap_account).status == "already_running"
    dead.refresh_from_db()
    assert dead.status == "running"  # the lease still runs: maybe the run is only slow
    MailSyncState.objects.update(lease_until=timezone.now() - timedelta(seconds=1))

    result = mailbox_sync(account=imap_account)

    assert result.status == "completed" and result.new == 1
    dead.refresh_from_db()
    assert (dead.status, dead.error_message) == ("failed", CRASHED)
    assert dead.sync_completed_at is not None
    assert EmailSyncLog.objects.get(pk=result.log_id).status == "completed"
    assert not Notification.objects.exists()


def test_an_internal_error_is_logged_and_told_to_the_owner_once_per_spell(
    imap_account, alice, bob, caplog
):
    def run_that_breaks() -> EmailSyncLog:
        started = sync_run_start(account=imap_account)
        assert started is not None
        token, log = started
        try:
            raise ZeroDivisionError("a bug")
        except ZeroDivisionError:
            sync_run_finish(account=imap_account, token=token, log=log, synced=0, internal=True)
        log.refresh_from_db()
        return log

    with caplog.at_level(logging.ERROR, logger="hub.domain.emails.sync_state"):
        first = run_that_breaks()
        run_that_breaks()

    assert (first.status, first.error_message) == ("failed", INTERNAL_ERROR)
    [notice] = Notification.objects.filter(user=alice)
    assert notice.message.startswith(
        f"The hub could not sync {imap_account.email}: The sync stopped on an internal error. "
        "The hub's operators were told"
    )
    assert not Notification.objects.filter(user=bob).exists()
    assert len(caplog.records) == 2
    assert all(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)
    state = MailSyncState.objects.get(account=imap_account)
    assert state.lease_until is None and state.last_error == INTERNAL_ERROR


def test_a_run_stopped_by_its_worker_is_no_failure_to_tell(imap_account, caplog):
    started = sync_run_start(account=imap_account)
    assert started is not None
    token, log = started

    with caplog.at_level(logging.WARNING, logger="hub.domain.emails.sync_state"):
        try:
            raise KeyboardInterrupt  # as the worker's shutdown or time limit (BaseException)
        except KeyboardInterrupt:
            sync_run_finish(account=imap_account, token=token, log=log, synced=0, internal=True)

    log.refresh_from_db()
    assert (log.status, log.error_message) == ("failed", CRASHED)
    assert not Notification.objects.exists()
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert MailSyncState.objects.get(account=imap_account).lease_until is None
