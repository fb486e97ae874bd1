"""The IMAP sync against the real Dovecot: first and incremental sync, the window, UIDVALIDITY
resyncs, identity (no duplicates), broken mail, flags (CONDSTORE), a run that dies mid-way."""

from __future__ import annotations

import logging

import pytest

from hub.domain.emails import sync
from hub.domain.emails.models import Email, EmailSyncLog, EmailThread, MailFolderCursor
from hub.domain.emails.sync import mailbox_sync
from hub.integrations.mail.imap_parts import OVERSIZE_FETCH_BYTES
from tests.eventlog import logged_events
from tests.mail.sync_fixtures import append_at, days_ago, message

pytestmark = [pytest.mark.django_db]


def emails(account, **filters):
    return Email.objects.filter(email_account=account, **filters)


def test_first_sync_stores_inbox_and_sent_with_their_direction_and_flags(imap_account, mailbox):
    mailbox.append(message(subject="Quote please", sender="Carol <Carol@Client.test>"))
    mailbox.append(message(subject="Seen one"), flags=[b"\\Seen"])
    mailbox.append(
        message(subject="My offer", sender=imap_account.email, to="dan@client.test"),
        folder="Sent",
        flags=[b"\\Seen"],
    )

    result = mailbox_sync(account=imap_account)

    assert result.status == "completed" and result.new == 3
    assert [(f.name, f.new, f.resynced) for f in result.folders] == [
        ("INBOX", 2, True),
        ("Sent", 1, True),
    ]
    quote = emails(imap_account).get(subject="Quote please")
    assert (quote.direction, quote.status, quote.folder, quote.uid) == (
        "inbound",
        "delivered",
        "INBOX",
        1,
    )
    assert quote.from_email == "carol@client.test" and not quote.is_read and quote.sent_at
    assert quote.thread.company_id == imap_account.company_id
    assert emails(imap_account).get(subject="Seen one").is_read
    offer = emails(imap_account).get(subject="My offer")
    assert (offer.direction, offer.status, offer.folder) == ("outbound", "sent", "Sent")
    log = EmailSyncLog.objects.get(pk=result.log_id)
    assert (log.status, log.emails_synced, log.error_message) == ("completed", 3, None)
    imap_account.refresh_from_db()
    assert imap_account.last_sync == log.sync_completed_at
    cursor = MailFolderCursor.objects.get(account=imap_account, role="inbox")
    assert cursor.last_uid == 2 and cursor.highest_modseq and cursor.synced_at


def test_each_new_message_is_an_email_created_event_for_its_owner(imap_account, mailbox, alice):
    mailbox.append(message(subject="Ping", body="Are you there?\n"))

    mailbox_sync(account=imap_account)

    [event] = logged_events().filter(type="email.created")
    email = emails(imap_account).get()
    assert (event.user_id, event.company_id) == (alice.pk, imap_account.company_id)
    assert event.payload["id"] == email.pk and event.payload["thread_id"] == email.thread_id
    assert event.payload["subject"] == "Ping" and "Are you there?" in event.payload["snippet"]


def test_the_first_sync_takes_only_the_window(imap_account, mailbox, settings):
    settings.HUB_EMAIL_SYNC_WINDOW_DAYS = 30
    append_at(mailbox, message(subject="Old", date=days_ago(45)), days_ago(45))
    append_at(mailbox, message(subject="Recent", date=days_ago(3)), days_ago(3))

    result = mailbox_sync(account=imap_account)

    assert result.new == 1
    assert list(emails(imap_account).values_list("subject", flat=True)) == ["Recent"]
    # Later runs never go back for what the window left out.
    assert mailbox_sync(account=imap_account).new == 0
    assert emails(imap_account).count() == 1


def test_an_incremental_sync_fetches_only_the_new_messages(imap_account, mailbox):
    mailbox.append(message(subject="One"), message(subject="Two"))
    mailbox_sync(account=imap_account)

    nothing = mailbox_sync(account=imap_account)
    mailbox.append(message(subject="Three"))
    third = mailbox_sync(account=imap_account)

    assert nothing.status == "completed" and nothing.new == 0 and nothing.duplicates == 0
    assert EmailSyncLog.objects.get(pk=nothing.log_id).emails_synced == 0
    assert (third.new, third.duplicates) == (1, 0)
    assert [f.resynced for f in third.folders] == [False, False]
    assert EmailSyncLog.objects.get(pk=third.log_id).emails_synced == 1
    assert sorted(emails(imap_account).values_list("subject", flat=True)) == [
        "One",
        "Three",
        "Two",
    ]
    assert MailFolderCursor.objects.get(account=imap_account, role="inbox").last_uid == 3


def imap_commands(caplog) -> list[str]:
    """The IMAP commands the client sent (IMAPClient logs each at DEBUG as "> b'TAG CMD …'")."""
    sent = [r.getMessage() for r in caplog.records if r.getMessage().startswith("> ")]
    return [line.split()[2].strip("'\"") for line in sent]


def test_a_sync_with_nothing_new_is_a_login_and_one_list(imap_account, mailbox, caplog):
    mailbox.append(message(subject="One"))
    mailbox_sync(account=imap_account)

    with caplog.at_level(logging.DEBUG, logger="imapclient"):
        result = mailbox_sync(account=imap_account)

    assert result.status == "completed" and result.new == 0
    # LIST-STATUS: the folders' UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ come with the LIST.
    assert imap_commands(caplog) == ["LOGIN", "LIST", "LOGOUT"]
    assert "RETURN (SPECIAL-USE STATUS (UIDVALIDITY UIDNEXT HIGHESTMODSEQ))" in caplog.text
    assert not any(mailbox.password in r.getMessage() for r in caplog.records)


def test_only_a_changed_folder_is_examined(imap_account, mailbox, caplog):
    mailbox.append(message(subject="One"))
    mailbox.append(message(subject="Mine", sender=imap_account.email), folder="Sent")
    mailbox_sync(account=imap_account)

    mailbox.append(message(subject="Two"))
    with caplog.at_level(logging.DEBUG, logger="imapclient"):
        new = mailbox_sync(account=imap_account)
    examined = [r.getMessage() for r in caplog.records if " EXAMINE " in r.getMessage()]

    assert [(f.name, f.new) for f in new.folders] == [("INBOX", 1), ("Sent", 0)]
    assert len(examined) == 1 and "INBOX" in examined[0], examined
    assert imap_commands(caplog)[:3] == ["LOGIN", "LIST", "ENABLE"]

    with mailbox.client() as imap:  # a flag changed in Sent: HIGHESTMODSEQ moved
        imap.select_folder("Sent")
        imap.add_flags([1], [b"\\Flagged"])
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="imapclient"):
        flagged = mailbox_sync(account=imap_account)
    examined = [r.getMessage() for r in caplog.records if " EXAMINE " in r.getMessage()]
    assert flagged.flags_updated == 1 and len(examined) == 1 and "Sent" in examined[0]


def test_batches_are_fetched_in_uid_order_with_progress(imap_account, mailbox, settings):
    settings.HUB_EMAIL_SYNC_BATCH_SIZE = 2
    mailbox.append(*[message(subject=f"M{i}") for i in range(5)])
    seen = []

    result = mailbox_sync(
        account=imap_account,
        progress=lambda folder, done, total: seen.append((folder, done, total)),
    )

    assert result.new == 5
    assert seen == [
        ("INBOX", 0, 5),
        ("INBOX", 2, 5),
        ("INBOX", 4, 5),
        ("INBOX", 5, 5),
        ("Sent", 0, 0),
    ]
    assert list(emails(imap_account).order_by("uid").values_list("subject", flat=True)) == [
        f"M{i}" for i in range(5)
    ]


def test_heavy_messages_make_smaller_batches(imap_account, mailbox, monkeypatch):
    monkeypatch.setattr(sync, "BATCH_MAX_BYTES", 10_000)
    heavy = message(subject="Heavy", body="x" * 12_000 + "\n")
    mailbox.append(message(subject="Small"), message(subject="Small2"), heavy, message())
    seen = []

    mailbox_sync(account=imap_account, progress=lambda *step: seen.append(step[1:]))

    # The two small ones together, the heavy one alone, then the last one.
    assert seen[:4] == [(0, 4), (2, 4), (3, 4), (4, 4)]
    assert emails(imap_account).count() == 4


def test_messages_over_the_size_limit_weigh_only_what_is_fetched_of_them(
    imap_account, mailbox, monkeypatch, settings
):
    settings.HUB_EMAIL_MESSAGE_MAX_BYTES = 100_000
    # Two stand-ins (header and text, cut) fit in a batch; two whole messages would not.
    monkeypatch.setattr(sync, "BATCH_MAX_BYTES", 2 * OVERSIZE_FETCH_BYTES + 1000)
    mailbox.append(*[message(subject=f"Big{i}", body="x" * 400_000 + "\n") for i in range(3)])
    seen = []

    result = mailbox_sync(account=imap_account, progress=lambda *step: seen.append(step[1:]))

    assert seen[:3] == [(0, 3), (2, 3), (3, 3)]
    assert result.new == 3
    big = emails(imap_account).get(subject="Big0")
    assert 60_000 < len(big.body_text) < 70_000  # the text, cut


def test_a_uidvalidity_change_resyncs_the_folder_without_duplicates(imap_account, mailbox, dovecot):
    mailbox.append(message(subject="A"), message(subject="B"), message(message_id=None))
    mailbox_sync(account=imap_account)
    before = dict(emails(imap_account).values_list("subject", "pk"))
    old = MailFolderCursor.objects.get(account=imap_account, role="inbox").uidvalidity

    dovecot.uidvalidity_set(mailbox.address, "INBOX", old + 1000)
    mailbox.append(message(subject="C"))
    result = mailbox_sync(account=imap_account)

    inbox = result.folders[0]
    assert inbox.resynced and (inbox.new, inbox.duplicates) == (1, 3)
    assert emails(imap_account).count() == 4
    assert dict(emails(imap_account).exclude(subject="C").values_list("subject", "pk")) == before
    cursor = MailFolderCursor.objects.get(account=imap_account, role="inbox")
    assert cursor.uidvalidity == old + 1000 and cursor.last_uid == 4
    # The stored messages carry their UIDs under the new UIDVALIDITY.
    assert sorted(emails(imap_account).values_list("uid", flat=True)) == [1, 2, 3, 4]


def test_the_same_message_in_inbox_and_sent_is_stored_once(imap_account, mailbox):
    raw = message(subject="To myself", sender=imap_account.email, to=imap_account.email)
    mailbox.append(raw)
    mailbox.append(raw, folder="Sent")

    result = mailbox_sync(account=imap_account)

    assert (result.new, result.duplicates) == (1, 1)
    [email] = emails(imap_account)
    assert email.folder == "INBOX" and email.direction == "inbound"
    # Seen again in the same batch: still once.
    mailbox.append(raw, raw)
    again = mailbox_sync(account=imap_account)
    assert (again.new, again.duplicates) == (0, 2) and emails(imap_account).count() == 1


def test_id_less_messages_get_a_stable_id_and_are_stored_once_across_a_resync(
    imap_account, mailbox, dovecot
):
    raw = message(subject="No id", message_id=None)
    mailbox.append(raw, message(subject="No id either", message_id=None))
    mailbox_sync(account=imap_account)
    ids = set(emails(imap_account).values_list("message_id", flat=True))
    cursor = MailFolderCursor.objects.get(account=imap_account, role="inbox")

    dovecot.uidvalidity_set(mailbox.address, "INBOX", cursor.uidvalidity + 7)
    mailbox.append(raw, folder="Sent")
    result = mailbox_sync(account=imap_account)

    assert (result.new, result.duplicates) == (0, 3)
    assert set(emails(imap_account).values_list("message_id", flat=True)) == ids
    assert all(i.startswith("<") and i.endswith(">") for i in ids) and len(ids) == 2


BROKEN = [
    b"this is not a message at all \x00\xff\xfe",
    (
        b"From: =?unknown-8bit?q?J=F6rg?= <joerg@client.test\r\n"
        b"Subject: =?x-no-such-charset?q?Pr=FCfung?=\r\n"
        b"Date: the day after tomorrow\r\n"
        b'Content-Type: multipart/mixed; boundary="nope"\r\n\r\n'
        b"--wrong\r\nContent-Type: text/plain; charset=bogus\r\n\r\nbody \xe9\r\n"
    ),
]


def test_broken_mail_is_stored_logged_and_the_sync_goes_on(imap_account, mailbox, caplog):
    mailbox.append(message(subject="Before"), *BROKEN, message(subject="After"))

    with caplog.at_level(logging.WARNING, logger="hub.domain.emails.sync_store"):
        result = mailbox_sync(account=imap_account)

    assert result.status == "completed" and result.new == 4
    assert result.broken >= 1
    assert {"Before", "After"} <= set(emails(imap_account).values_list("subject", flat=True))
    warnings = [r.getMessage() for r in caplog.records if "broken message" in r.getMessage()]
    assert len(warnings) == result.broken
    assert all(f"account {imap_account.pk}, folder INBOX" in w for w in warnings)
    assert not any("body" in w and "\xe9" in w for w in warnings)


def test_flags_follow_with_condstore(imap_account, mailbox):
    mailbox.append(message(subject="Read me"), message(subject="Star me"))
    mailbox_sync(account=imap_account)
    read_me = emails(imap_account).get(subject="Read me")
    star_me = emails(imap_account).get(subject="Star me")
    assert not read_me.is_read and not star_me.thread.is_starred

    with mailbox.client() as imap:  # another mail client
        imap.select_folder("INBOX")
        imap.add_flags([read_me.uid], [b"\\Seen"])
        imap.add_flags([star_me.uid], [b"\\Flagged"])
    result = mailbox_sync(account=imap_account)

    assert result.flags_updated == 2 and (result.new, result.duplicates) == (0, 0)
    read_me.refresh_from_db()
    assert read_me.is_read and read_me.read_at and read_me.thread.is_read
    assert EmailThread.objects.get(pk=star_me.thread_id).is_starred

    with mailbox.client() as imap:
        imap.select_folder("INBOX")
        imap.remove_flags([read_me.uid], [b"\\Seen"])
        imap.remove_flags([star_me.uid], [b"\\Flagged"])
    assert mailbox_sync(account=imap_account).flags_updated == 2
    read_me.refresh_from_db()
    assert not read_me.is_read and read_me.read_at is None and not read_me.thread.is_read
    assert not EmailThread.objects.get(pk=star_me.thread_id).is_starred
    # The sync itself never marks anything read on the server.
    with mailbox.client() as imap:
        imap.select_folder("INBOX", readonly=True)
        assert not imap.search(["SEEN"])


def test_a_run_cut_off_between_batches_resumes_without_loss_or_duplicate(
    imap_account, mailbox, dovecot, settings
):
    settings.HUB_EMAIL_SYNC_BATCH_SIZE = 2
    mailbox.append(*[message(subject=f"M{i}") for i in range(5)])

    def kick_after_first_batch(folder, done, total):
        if done == 2:  # the server drops the connection, as a restart would
            dovecot.kick(mailbox.address)

    cut = mailbox_sync(account=imap_account, progress=kick_after_first_batch)

    assert cut.status == "failed" and "IMAP server" in cut.error
    assert emails(imap_account).count() == 2
    log = EmailSyncLog.objects.get(pk=cut.log_id)
    assert (log.status, log.emails_synced) == ("failed", 2)
    assert MailFolderCursor.objects.get(account=imap_account, role="inbox").last_uid == 2

    resumed = mailbox_sync(account=imap_account)

    assert resumed.status == "completed" and (resumed.new, resumed.duplicates) == (3, 0)
    assert sorted(emails(imap_account).values_list("subject", flat=True)) == [
        f"M{i}" for i in range(5)
    ]
