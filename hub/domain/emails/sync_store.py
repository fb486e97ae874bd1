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
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from hub.domain.emails.attachments import email_attachments_store
from hub.domain.emails.identity import message_id_clean, message_id_synthetic
from hub.domain.emails.linking import threads_crm_link
from hub.domain.emails.models import (
    Direction,
    Email,
    EmailAccount,
    EmailStatus,
    EmailThread,
    RuleTrigger,
)
from hub.domain.emails.parse import ParsedMessage, message_parse
from hub.domain.emails.rules import rules_due, rules_run
from hub.domain.emails.threads import ThreadItem, threads_assign
from hub.domain.events.models import Audience
from hub.domain.events.payloads import email_payload
from hub.domain.events.services import event_record
from hub.integrations.mail.imap import FLAGGED, SEEN, FetchedMessage

logger = logging.getLogger(__name__)


@dataclass
class BatchStored:
    new: int = 0
    duplicates: int = 0
    broken: int = 0


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
        prepared.append(Prepared(fetched=fetched, parsed=parsed, message_id=message_id))
    return prepared


def _parse(raw: bytes) -> ParsedMessage:
    try:
        return message_parse(raw)
    except Exception as exc:  # message_parse promises not to raise; a sync must go on anyway
        logger.exception("mail sync: the parser failed on a message")
        return ParsedMessage(
            message_id=None,
            in_reply_to=None,
            references=[],
            subject="",
            from_email="",
            from_name="",
            to_emails=[],
            cc_emails=[],
            bcc_emails=[],
            date=None,
            body_text="",
            body_html="",
            defects=[f"the message could not be parsed ({exc.__class__.__name__})"],
        )


def batch_store(
    *, account: EmailAccount, folder: str, outbound: bool, prepared: list[Prepared]
) -> BatchStored:
    """Store a batch's new messages; run inside the batch's transaction.

    Inbound mail (INBOX) is stored with status "delivered" (it reached the mailbox, the
    nearest the schema has to "received"), sent mail (the Sent folder) as outbound "sent".
    A message already stored for the account (same Message-ID, or the same synthetic id) is a
    duplicate: counted, and its folder UID refreshed when it is this folder's.
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
    for email, item in zip(emails, fresh, strict=True):
        _after_insert(account, email, item, folder=folder, rules=rules)
        stored.broken += bool(item.parsed.defects)
    return stored


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
        if row_folder == folder and uid != item.fetched.uid:
            moved.append(Email(pk=pk, uid=item.fetched.uid))
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
        has_attachments=bool(parsed.attachments),
        in_reply_to=item.in_reply_to,
        references=" ".join(item.references) or None,
        folder=folder,
        uid=fetched.uid,
    )


def _after_insert(
    account: EmailAccount, email: Email, item: Prepared, *, folder: str, rules: bool
) -> None:
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
        email_attachments_store(email=email, attachments=item.parsed.attachments)
    # On PostgreSQL the trigger on emails_email wrote this already (event_record knows).
    event_record(
        company_id=account.company_id,
        audience=Audience.USER,
        user_id=account.user_id,
        topic="emails",
        type="email.created",
        payload=email_payload(email),
    )
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
            email_account=account, folder=folder, uid__in=list(changed)
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
