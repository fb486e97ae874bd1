"""Storing what a sync fetched, a batch at a time: new messages (identity, duplicates, threads,
one bulk insert, CRM links, attachments, events, rules) and flag changes (CONDSTORE).

Work is per batch, not per message: one query finds the batch's ids already stored, one the
threads they cite, one inserts the messages (PostgreSQL and SQLite return their ids), one per
kind links the threads to the CRM (``linking.threads_crm_link``), one asks whether any
``email_received`` rule can run (when none can, no message asks again). What stays per
message: a message's attachments, and on SQLite its ``email.created`` event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.utils import timezone

from hub.domain.emails.attachments import attachment_files_delete, email_attachments_store
from hub.domain.emails.identity import message_id_clean, message_id_synthetic
from hub.domain.emails.linking import threads_crm_link
from hub.domain.emails.models import (
    Direction,
    Email,
    EmailAccount,
    EmailStatus,
    EmailSyncLog,
    EmailThread,
    FolderRole,
    MailFolderCursor,
    RuleTrigger,
    SyncStatus,
)
from hub.domain.emails.parse import ParsedMessage, message_parse, message_unreadable
from hub.domain.emails.rules import rules_due, rules_run
from hub.domain.emails.services import email_created_record
from hub.domain.emails.threads import ThreadItem, threads_assign
from hub.integrations.mail.imap import FLAGGED, SEEN, FetchedMessage

logger = logging.getLogger(__name__)

UID_MAX = 2**31 - 1  # emails_email.uid is a 32-bit signed column; IMAP UIDs go to 2^32-1


@dataclass
class BatchStored:
    new: int = 0
    duplicates: int = 0
    broken: int = 0

    def add(self, other: BatchStored) -> None:
        self.new, self.duplicates = self.new + other.new, self.duplicates + other.duplicates
        self.broken += other.broken


@dataclass
class Prepared:
    """A fetched message, parsed, with its identity (SCHEMA.md D10)."""

    fetched: FetchedMessage
    parsed: ParsedMessage
    message_id: str


def batch_prepare(*, account: EmailAccount, messages: list[FetchedMessage]) -> list[Prepared]:
    """Parse a batch (outside any transaction: it is the CPU part)."""
    prepared = []
    for fetched in messages:
        parsed = _parse(fetched.raw)
        message_id = message_id_clean(parsed.message_id) or message_id_synthetic(
            account_id=account.pk, raw=fetched.raw
        )
        if fetched.oversize:
            _oversize_note(parsed, fetched.oversize, fetched.attachments_listed)
        prepared.append(Prepared(fetched=fetched, parsed=parsed, message_id=message_id))
    return prepared


def _oversize_note(parsed: ParsedMessage, size: int, listed: list[tuple[str, str, int]]) -> None:
    """Say in the body that only the header and first text part of the message were fetched,
    and count it broken (a defect)."""
    note = (
        f"This message is {_size(size)}, larger than the hub stores "
        "(HUB_EMAIL_MESSAGE_MAX_BYTES); open it in your mail client."
    )
    if listed:
        files = ", ".join(f"{name or 'unnamed'} ({_size(n)})" for name, _, n in listed)
        note += f" Its attachments, not stored: {files}."
    parsed.body_text = f"{note}\n\n{parsed.body_text}" if parsed.body_text else note
    parsed.defects.append(
        f"{size} bytes, over HUB_EMAIL_MESSAGE_MAX_BYTES ({settings.HUB_EMAIL_MESSAGE_MAX_BYTES}):"
        f" only its headers and first text part were fetched, {len(listed)} attachment(s) listed"
    )


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} MB"
    return f"{max(1, round(size / 1024))} KB"


def _parse(raw: bytes) -> ParsedMessage:
    try:
        return message_parse(raw)
    except Exception as exc:  # message_parse promises not to raise; a sync must go on anyway
        logger.exception("mail sync: the parser failed on a message")
        return message_unreadable(f"the message could not be parsed ({exc.__class__.__name__})")


def uid_column(uid: int | None) -> int | None:
    """The UID as ``emails_email.uid`` can hold it (a 32-bit signed column): None above
    2^31-1. Flag changes cannot reach such a message (they are applied by UID)."""
    return uid if uid is not None and 0 < uid <= UID_MAX else None


@dataclass
class _Batch:
    """What every message of a batch shares while it is stored."""

    account: EmailAccount
    folder: str
    outbound: bool
    history: bool | None
    files: list[str] = field(default_factory=list)  # attachment files written, for a rollback


def batch_store(
    *,
    account: EmailAccount,
    folder: str,
    outbound: bool,
    prepared: list[Prepared],
    history: bool | None = None,
) -> BatchStored:
    """Store a batch's new messages; run inside the batch's transaction.

    Inbound mail (INBOX) is stored with status "delivered" (it reached the mailbox, the
    nearest the schema has to "received"), sent mail (the Sent folder) as outbound "sent".
    A message already stored for the account (same Message-ID, or the same synthetic id) is a
    duplicate: counted, and its folder UID refreshed when it is this folder's.

    ``history``: whether the folder's first sync (or a resync from the window) is under way;
    None asks the folder's cursor. Its mail runs no ``email_received`` rule unless it arrived
    after the account's last completed sync.

    When the batch raises a database error (other than an ``OperationalError``: a lost
    connection, a deadlock), its messages are stored one by one, each in a savepoint, and one
    that still fails is logged and skipped (counted broken), so one message never stops a
    mailbox; the error is raised only when every message of a batch of several fails.
    """
    stored = BatchStored()
    unique: dict[str, Prepared] = {}
    for item in prepared:
        if item.message_id in unique:
            stored.duplicates += 1
        else:
            unique[item.message_id] = item
    candidates = len(unique)
    fresh = _not_stored(account, folder, unique)
    stored.duplicates += candidates - len(fresh)
    batch = _Batch(account=account, folder=folder, outbound=outbound, history=history)
    try:
        stored.add(_savepoint(batch, fresh))
    except OperationalError:
        raise  # the database's (a lost connection, a deadlock), not the mail's: the run fails
    except DatabaseError as exc:
        logger.warning(
            "mail sync: a batch of account %s, folder %s could not be stored (%s); "
            "storing its %d messages one by one",
            account.pk,
            folder,
            _first_line(exc),
            len(fresh),
        )
        stored.add(_one_by_one(batch, fresh))
    return stored


def _savepoint(batch: _Batch, fresh: list[Prepared]) -> BatchStored:
    """Store in a savepoint; the attachment files it wrote go when it rolls back."""
    written = len(batch.files)
    try:
        with transaction.atomic():
            return _store(batch, fresh)
    except BaseException:
        attachment_files_delete(names=batch.files[written:])
        del batch.files[written:]
        raise


def _one_by_one(batch: _Batch, fresh: list[Prepared]) -> BatchStored:
    total = BatchStored()
    failed: list[DatabaseError] = []
    for item in fresh:
        try:
            total.add(_savepoint(batch, [item]))
        except OperationalError:
            raise
        except DatabaseError as exc:
            failed.append(exc)
            total.add(_skipped(batch, item, exc))
    if len(failed) == len(fresh) > 1:
        raise failed[0]  # every message failing is the database's fault, not the mail's
    return total


def _skipped(batch: _Batch, item: Prepared, exc: DatabaseError) -> BatchStored:
    """Log and count a message that cannot be stored: it is skipped for good."""
    # Never the body or the addresses (a database error's detail may quote them).
    logger.error(
        "mail sync: skipped a message of account %s, folder %s, UID %s that could not be "
        "stored: %s: %s",
        batch.account.pk,
        batch.folder,
        item.fetched.uid,
        exc.__class__.__name__,
        _first_line(exc),
    )
    return BatchStored(broken=1)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


def _store(batch: _Batch, fresh: list[Prepared]) -> BatchStored:
    account, folder, outbound = batch.account, batch.folder, batch.outbound
    stored = BatchStored()
    for attempt in (1, 2):
        try:
            with transaction.atomic():  # a savepoint: a concurrent insert rolls back only this
                emails, threads = _insert(account, folder, outbound, fresh)
            break
        except IntegrityError:
            if attempt == 2:
                raise
            # Someone else (the send path) stored one of these since we looked: skip those.
            taken = _stored_ids(account, [p.message_id for p in fresh])
            if not taken:
                raise
            stored.duplicates += len(taken)
            fresh = [p for p in fresh if p.message_id not in taken]
    stored.new = len(emails)
    # Linked first: the rules then see the lead / deal a thread is about (tasks attach to them).
    threads_crm_link(threads)
    # Asked once a batch: most companies have no rule, and a first sync runs none.
    rules = (
        bool(emails)
        and not outbound
        and rules_due(
            trigger=RuleTrigger.EMAIL_RECEIVED, company_id=account.company_id, account=account
        )
    )
    since = _rules_since(batch) if rules else None
    for email, item in zip(emails, fresh, strict=True):
        arrived = item.fetched.internal_date
        run = rules and (since is None or (arrived is not None and arrived > since))
        _after_insert(batch, email, item, rules=run)
        stored.broken += bool(item.parsed.defects)
    return stored


def _rules_since(batch: _Batch) -> datetime | None:
    """None when the batch's received mail runs the rules. Else (history: the folder's first
    sync or a resync from the window) the time after which a message must have arrived to run
    them: the start of the account's last completed run, which may not have seen what came
    after it, less a second (INTERNALDATE's precision). Mail that came during a long resync
    is new mail all the same."""
    history = batch.history
    if history is None:
        history = not MailFolderCursor.objects.filter(
            account=batch.account, role=FolderRole.INBOX, synced_at__isnull=False
        ).exists()
    if not history:
        return None
    started = (
        EmailSyncLog.objects.filter(email_account=batch.account, status=SyncStatus.COMPLETED)
        .order_by("-sync_started_at")
        .values_list("sync_started_at", flat=True)
        .first()
    )
    since = started or batch.account.last_sync
    # Never synced: rules_due said no already; nothing would be new.
    return since - timedelta(seconds=1) if since else datetime.max.replace(tzinfo=UTC)


def _stored_ids(account: EmailAccount, message_ids: list[str]) -> set[str]:
    return set(
        Email.objects.filter(email_account=account, message_id__in=message_ids).values_list(
            "message_id", flat=True
        )
    )


def _not_stored(account: EmailAccount, folder: str, unique: dict[str, Prepared]) -> list[Prepared]:
    """The batch's messages not stored yet; a stored one seen again in its own folder under
    another UID (a UIDVALIDITY resync) gets its new UID, for flag updates."""
    rows = Email.objects.filter(email_account=account, message_id__in=list(unique)).values_list(
        "pk", "message_id", "folder", "uid"
    )
    moved = []
    for pk, message_id, row_folder, uid in rows:
        item = unique.pop(message_id)
        if row_folder == folder and uid != uid_column(item.fetched.uid):
            moved.append(Email(pk=pk, uid=uid_column(item.fetched.uid)))
    Email.objects.bulk_update(moved, ["uid"])
    return list(unique.values())


def _insert(
    account: EmailAccount, folder: str, outbound: bool, fresh: list[Prepared]
) -> tuple[list[Email], list[EmailThread]]:
    now = timezone.now()
    items = [_thread_item(p, now) for p in fresh]
    threads = threads_assign(account=account, items=items)
    emails = [
        _email(account, p, item, folder=folder, outbound=outbound, now=now)
        for p, item in zip(fresh, items, strict=True)
    ]
    return Email.objects.bulk_create(emails), threads


def _when(p: Prepared, now: datetime) -> datetime:
    return p.parsed.date or p.fetched.internal_date or now


def _refs(p: Prepared) -> tuple[str | None, list[str]]:
    in_reply_to = message_id_clean(p.parsed.in_reply_to)
    refs = []
    for value in p.parsed.references:
        ref = message_id_clean(value)
        if ref and ref not in refs:
            refs.append(ref)
    return in_reply_to, refs


def _thread_item(p: Prepared, now: datetime) -> ThreadItem:
    parsed = p.parsed
    in_reply_to, refs = _refs(p)
    return ThreadItem(
        message_id=p.message_id,
        in_reply_to=in_reply_to,
        references=refs,
        subject=parsed.subject,
        participants=[parsed.from_email, *parsed.to_emails, *parsed.cc_emails],
        at=_when(p, now),
        is_read=p.fetched.seen,
        is_starred=p.fetched.flagged,
    )


def _email(
    account: EmailAccount,
    p: Prepared,
    item: ThreadItem,
    *,
    folder: str,
    outbound: bool,
    now: datetime,
) -> Email:
    parsed, fetched = p.parsed, p.fetched
    assert item.thread is not None and item.thread.pk is not None
    return Email(
        thread_id=item.thread.pk,
        email_account=account,
        message_id=p.message_id,
        from_email=parsed.from_email[:254],
        from_name=parsed.from_name[:255],
        to_emails=parsed.to_emails,
        cc_emails=parsed.cc_emails,
        bcc_emails=parsed.bcc_emails,
        subject=parsed.subject[:500],
        body_text=parsed.body_text,
        body_html=parsed.body_html,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        status=EmailStatus.SENT if outbound else EmailStatus.DELIVERED,
        is_read=fetched.seen,
        read_at=now if fetched.seen else None,
        sent_at=_when(p, now),
        delivered_at=None if outbound else fetched.internal_date,
        # The hub did not send it, so it carries no pixel or rewritten links.
        tracking_enabled=False,
        has_attachments=bool(parsed.attachments or fetched.attachments_listed),
        in_reply_to=item.in_reply_to,
        references=" ".join(item.references) or None,
        folder=folder,
        uid=uid_column(fetched.uid),
    )


def _after_insert(batch: _Batch, email: Email, item: Prepared, *, rules: bool) -> None:
    account, folder = batch.account, batch.folder
    if item.parsed.defects:
        # Never the body or the addresses: the ids and what was wrong.
        logger.warning(
            "mail sync: stored a broken message of account %s, folder %s, UID %s: %s",
            account.pk,
            folder,
            item.fetched.uid,
            "; ".join(item.parsed.defects)[:500],
        )
    if item.parsed.attachments:
        email_attachments_store(
            email=email, attachments=item.parsed.attachments, written=batch.files
        )
    email_created_record(account=account, email=email)
    if rules:
        rules_run(trigger=RuleTrigger.EMAIL_RECEIVED, company_id=account.company_id, email=email)


def flags_apply(
    *,
    account: EmailAccount,
    folder: str,
    changed: dict[int, frozenset[str]],
    flags_of: Callable[[list[int]], dict[int, frozenset[str]]],
) -> int:
    """Follow \\Seen and \\Flagged changes (by UID) on the stored messages of a folder: their
    ``is_read`` / ``read_at``, their threads' ``is_read`` (all read) and ``is_starred`` (one of
    the thread's messages in this folder flagged; ``flags_of`` asks the server for the flags
    of those that did not change). Returns how many stored messages changed."""
    rows = [
        (pk, uid, was, thread_id)
        for pk, uid, was, thread_id in Email.objects.filter(
            email_account=account, folder=folder, uid__in=[u for u in changed if uid_column(u)]
        ).values_list("pk", "uid", "is_read", "thread_id")
        if uid is not None
    ]
    thread_ids = {thread_id for *_, thread_id in rows if thread_id}
    members = [
        (uid, thread_id)
        for uid, thread_id in Email.objects.filter(
            email_account=account, folder=folder, thread_id__in=thread_ids
        ).values_list("uid", "thread_id")
        if uid is not None
    ]
    unknown = sorted({uid for uid, _ in members if uid not in changed})
    flags = {**flags_of(unknown), **changed} if unknown else changed
    starred = {thread_id for uid, thread_id in members if FLAGGED in flags.get(uid, ())}
    read = [pk for pk, uid, was, _ in rows if SEEN in changed[uid] and not was]
    unread = [pk for pk, uid, was, _ in rows if SEEN not in changed[uid] and was]
    with transaction.atomic():
        Email.objects.filter(pk__in=read).update(is_read=True, read_at=timezone.now())
        Email.objects.filter(pk__in=unread).update(is_read=False, read_at=None)
        with_unread = set(
            Email.objects.filter(thread_id__in=thread_ids, is_read=False).values_list(
                "thread_id", flat=True
            )
        )
        threads = list(EmailThread.objects.select_for_update().filter(pk__in=thread_ids))
        restarred = set()
        for thread in threads:
            thread.is_read = thread.pk not in with_unread
            if thread.is_starred != (thread.pk in starred):
                thread.is_starred = thread.pk in starred
                restarred.add(thread.pk)
        EmailThread.objects.bulk_update(threads, ["is_read", "is_starred"])
    return len({*read, *unread} | {pk for pk, _, _, t in rows if t in restarred})
