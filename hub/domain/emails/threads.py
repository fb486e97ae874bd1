"""Threading of synced mail: which conversation (``emails_emailthread``) each message joins.

In order: a thread that already carries or cites one of the message's ids (its
``In-Reply-To``, its ``References`` from the newest, its own Message-ID: so a reply that came
before its parent is found by the parent) through ``hub_email_thread_ref``; else the thread of
the same account whose normalized subject is the message's and that shares a participant with
it other than the account's own address, if that thread had a message within
:data:`SUBJECT_WINDOW` (never for empty or generic subjects like "Hi"): two customers who both
write "Pricing for 20 seats" get two threads; else a new thread.

The subject fallback uses the same table: a row whose ``message_id`` is
``subject:<sha256 of the normalized subject and one participant>`` (never a Message-ID, which
is always in angle brackets), one per outside participant of the message (at most
:data:`SUBJECT_PARTICIPANTS`), points at the newest thread of that subject with that
participant in the account. An alias of the mailbox (``sales@`` delivered to it) counts as an
outside participant: mail to it threads by subject as mail between strangers would.

A thread keeps ``participants`` (the lower-cased addresses of From, To and Cc of its messages,
each once, in order of first appearance), ``message_count``, ``last_message_at`` (the newest),
``is_read`` (all its messages read) and ``is_starred`` (one of them \\Flagged). Threads never
cross accounts (and so never companies): every look-up is by account.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub.domain.emails.identity import subject_normalize
from hub.domain.emails.models import EmailAccount, EmailThread, EmailThreadRef

SUBJECT_WINDOW = timedelta(days=30)
SUBJECT_KEY_PREFIX = "subject:"
# A message's outside participants that get a subject key (a mailing to hundreds gets no more).
SUBJECT_PARTICIPANTS = 20
# Subjects too common to mean "the same conversation" (compared after normalizing).
GENERIC_SUBJECTS = frozenset(
    {
        "",
        "hi",
        "hello",
        "hey",
        "hi there",
        "test",
        "testing",
        "question",
        "questions",
        "thanks",
        "thank you",
        "fyi",
        "info",
        "update",
        "meeting",
        "follow up",
        "follow-up",
        "followup",
        "no subject",
        "(no subject)",
        "untitled",
        "hallo",
        "bonjour",
    }
)


@dataclass
class ThreadItem:
    """What threading needs of one new message; ``thread`` is set by :func:`threads_assign`."""

    message_id: str
    in_reply_to: str | None
    references: list[str]
    subject: str
    participants: list[str]
    at: datetime
    is_read: bool
    is_starred: bool
    thread: EmailThread | None = field(default=None, repr=False)

    def cited(self) -> list[str]:
        """The ids that may name its thread, strongest first."""
        ids = [self.in_reply_to] if self.in_reply_to else []
        return [*ids, *reversed(self.references), self.message_id]


def subject_keys(subject: str, participants: list[str], *, own: set[str]) -> list[str]:
    """The thread-ref keys of a subject, one per participant not in ``own`` (the account's
    addresses); none when the subject is too generic to thread by."""
    normalized = subject_normalize(subject or "")
    if len(normalized) < 3 or normalized in GENERIC_SUBJECTS:
        return []
    keys: list[str] = []
    for address in _outside(participants, own)[:SUBJECT_PARTICIPANTS]:
        digest = hashlib.sha256(f"{normalized}\n{address}".encode()).hexdigest()
        keys.append(SUBJECT_KEY_PREFIX + digest)
    return keys


def _outside(participants: list[str], own: set[str]) -> list[str]:
    found: list[str] = []
    for address in participants:
        address = (address or "").strip().lower()
        if address and address not in own and address not in found:
            found.append(address)
    return found


def _own(account: EmailAccount) -> set[str]:
    return {a.strip().lower() for a in (account.email, account.username) if a and "@" in a}


def threads_assign(*, account: EmailAccount, items: list[ThreadItem]) -> list[EmailThread]:
    """Give each item its thread (creating new ones), update the threads' counters and record
    the ids they now carry; returns the threads touched. Run inside the batch's transaction."""
    if not items:
        return []
    own = _own(account)
    subjects = {id(item): subject_keys(item.subject, item.participants, own=own) for item in items}
    keys = {key for item in items for key in item.cited()}
    keys |= {key for found in subjects.values() for key in found}
    known = dict(
        EmailThreadRef.objects.filter(account=account, message_id__in=keys).values_list(
            "message_id", "thread_id"
        )
    )
    # Locked: a message stored by the send path at the same time waits for this batch.
    threads = {
        t.pk: t
        for t in EmailThread.objects.select_for_update().filter(
            email_account=account, pk__in=set(known.values())
        )
    }
    for loaded in threads.values():
        loaded.email_account = account  # spares CRM linking a query per thread
    by_key: dict[str, EmailThread] = {k: threads[t] for k, t in known.items() if t in threads}
    touched: dict[int, EmailThread] = {}
    new_refs: dict[str, EmailThread] = {}
    subject_refs: dict[str, EmailThread] = {}
    for item in items:
        thread = _find(item, by_key, subjects[id(item)]) or EmailThread(
            company_id=account.company_id,
            email_account=account,
            subject=(item.subject or "")[:500],
            participants=[],
            last_message_at=item.at,
            message_count=0,
            is_read=True,
            is_starred=False,
        )
        _add(thread, item)
        item.thread = thread
        touched[id(thread)] = thread
        for key in item.cited():
            if key not in by_key:
                by_key[key] = thread
                new_refs[key] = thread
        for by_subject in subjects[id(item)]:
            if by_key.get(by_subject) is not thread:
                by_key[by_subject] = thread
                subject_refs[by_subject] = thread
    existing = [t for t in touched.values() if t.pk is not None]
    EmailThread.objects.bulk_create([t for t in touched.values() if t.pk is None])
    EmailThread.objects.bulk_update(
        existing, ["participants", "message_count", "last_message_at", "is_read", "is_starred"]
    )
    EmailThreadRef.objects.bulk_create(
        [EmailThreadRef(account=account, message_id=k, thread=t) for k, t in new_refs.items()],
        ignore_conflicts=True,
    )
    EmailThreadRef.objects.bulk_create(
        [EmailThreadRef(account=account, message_id=k, thread=t) for k, t in subject_refs.items()],
        update_conflicts=True,
        unique_fields=["account", "message_id"],
        update_fields=["thread"],
    )
    return list(touched.values())


def _find(
    item: ThreadItem, by_key: dict[str, EmailThread], subjects: list[str]
) -> EmailThread | None:
    for key in item.cited():
        if key in by_key:
            return by_key[key]
    recent = [
        by_key[key]
        for key in subjects
        if key in by_key and abs(item.at - by_key[key].last_message_at) <= SUBJECT_WINDOW
    ]
    return max(recent, key=lambda t: t.last_message_at) if recent else None


def _add(thread: EmailThread, item: ThreadItem) -> None:
    thread.message_count += 1
    thread.last_message_at = max(thread.last_message_at, item.at)
    seen = set(thread.participants)
    for address in item.participants:
        address = address.strip().lower()
        if address and address not in seen:
            seen.add(address)
            thread.participants.append(address)
    thread.is_read = thread.is_read and item.is_read
    thread.is_starred = thread.is_starred or item.is_starred
