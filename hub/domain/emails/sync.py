"""The IMAP sync of one mailbox: INBOX and the Sent folder, incremental, never duplicating.

A run (:func:`mailbox_sync`) takes the account's lease (one run per account however many
workers), writes an ``emails_emailsynclog`` row, opens one IMAP connection and syncs each folder:

- A folder's cursor (``hub_email_folder_cursor``, one per account and role) holds its
  UIDVALIDITY, the last UID stored and, with CONDSTORE, the HIGHESTMODSEQ whose flag changes
  were taken. The first sync takes the messages of the last ``HUB_EMAIL_SYNC_WINDOW_DAYS`` days
  (``UID SEARCH SINCE``); later runs the UIDs above the cursor. A changed UIDVALIDITY (or a
  Sent folder found under another name) resyncs the folder from the window: messages already
  stored are recognised by their identity and not stored again.
- Messages are fetched ``HUB_EMAIL_SYNC_BATCH_SIZE`` at a time in UID order (fewer when they
  weigh more than :data:`BATCH_MAX_BYTES` together). One larger than
  ``HUB_EMAIL_MESSAGE_MAX_BYTES`` is never fetched whole: its header, first text part and list
  of attachments stand for it (``FetchedMessage.oversize``). Each batch is stored in one
  transaction that also moves the cursor to its last UID and renews the lease, so a run that
  dies resumes after the last batch it committed, without loss or duplicate. Until a folder's
  first sync has finished (``synced_at`` unset) resuming keeps to the window.
- With CONDSTORE, \\Seen and \\Flagged changes since the cursor's HIGHESTMODSEQ follow on the
  stored messages. Without it flags are read only when a message is first stored.
- A folder whose UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ did not move (STATUS, or the LIST's
  own STATUS with LIST-STATUS) is not even EXAMINEd, so a run with nothing new is a login and
  one LIST.

The scheduler's tick (:func:`accounts_to_sync`) leaves out an account whose lease is held (a
run, or a run queued: the tick claims the lease when it queues one) and one whose last runs
failed, for a delay that doubles with each failure in a row (:func:`sync_retry_delay`: 1, 2,
4 … 60 minutes) unless its password was changed since. A run asked for by hand is never held
back.

Expunged messages are not followed (the hub keeps what it synced). An authentication failure,
an unreachable server or a credential that cannot be decrypted fails the run with a clear
reason; the owner is notified once per failing spell (``sync_state``).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from hub.domain.emails.crypto import CredentialError, credential_decrypt
from hub.domain.emails.models import (
    Email,
    EmailAccount,
    EmailSyncLog,
    FolderRole,
    MailFolderCursor,
    SyncStatus,
)
from hub.domain.emails.sync_state import (
    LeaseLost,
    sync_lease_held,
    sync_lease_release,
    sync_lease_renew,
    sync_run_finish,
    sync_run_start,
)
from hub.domain.emails.sync_store import batch_prepare, batch_store, flags_apply
from hub.integrations.mail.imap import FolderState, FolderStatus, ImapMailbox, MailServerError
from hub.integrations.mail.imap_parts import OVERSIZE_FETCH_BYTES

logger = logging.getLogger(__name__)

ALREADY_RUNNING = "already_running"
FOLDER_COLUMN = 64  # emails_email.folder
# What one batch may weigh (the raw messages held in memory at once).
BATCH_MAX_BYTES = 32 * 1024 * 1024
# The scheduler's wait after failed runs in a row: 1, 2, 4 … minutes, at most this.
RETRY_MAX_MINUTES = 60

Progress = Callable[[str, int, int], None]


@dataclass
class FolderResult:
    role: str
    name: str
    new: int = 0
    duplicates: int = 0
    flags_updated: int = 0
    broken: int = 0
    resynced: bool = False  # first sync, or a UIDVALIDITY change


@dataclass
class SyncResult:
    """``status`` is "completed", "failed" (``error`` says why) or "already_running"."""

    status: str
    log_id: int | None = None
    error: str = ""
    folders: list[FolderResult] = field(default_factory=list)

    @property
    def new(self) -> int:
        return sum(f.new for f in self.folders)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.folders)

    @property
    def flags_updated(self) -> int:
        return sum(f.flags_updated for f in self.folders)

    @property
    def broken(self) -> int:
        return sum(f.broken for f in self.folders)


class _Failure(Exception):
    def __init__(self, reason: str, *, notify: bool) -> None:
        super().__init__(reason)
        self.notify = notify


def mailbox_sync(
    *, account: EmailAccount, progress: Progress | None = None, lease: str | None = None
) -> SyncResult:
    """Sync the account's INBOX and Sent folder once. Not atomic on purpose: each batch
    commits on its own so that a long first sync keeps what it did. ``lease``: the token the
    scheduler's tick claimed when it queued this run; the run takes the lease over from it
    (a stale token, whose lease another tick has claimed since, means "already running")."""
    if lease is not None:
        sync_lease_release(account=account, token=lease, succeeded=False)
    started = sync_run_start(account=account)
    if started is None:
        return SyncResult(status=ALREADY_RUNNING)
    token, log = started
    result = SyncResult(status=SyncStatus.RUNNING, log_id=log.pk)
    try:
        _run(account, token, result, progress)
    except _Failure as failure:
        result.status, result.error = SyncStatus.FAILED, str(failure)
        logger.warning("mail sync of account %s failed: %s", account.pk, result.error)
        sync_run_finish(
            account=account,
            token=token,
            log=log,
            synced=result.new,
            error=result.error,
            notify=failure.notify,
        )
        return result
    except BaseException:
        sync_run_finish(
            account=account,
            token=token,
            log=log,
            synced=result.new,
            internal=True,
        )
        raise
    result.status = SyncStatus.COMPLETED
    sync_run_finish(account=account, token=token, log=log, synced=result.new)
    return result


def _run(account: EmailAccount, token: str, result: SyncResult, progress: Progress | None):
    if not account.imap_host:
        raise _Failure("The account has no IMAP server set.", notify=True)
    try:
        password = credential_decrypt(account.password)
    except CredentialError as exc:
        raise _Failure(str(exc), notify=True) from None
    try:
        with ImapMailbox.open(
            host=account.imap_host,
            port=account.imap_port,
            username=account.username,
            password=password,
            timeout=settings.HUB_EMAIL_IMAP_TIMEOUT_SECONDS,
            allow_plaintext=settings.HUB_EMAIL_ALLOW_PLAINTEXT_LOGIN,
        ) as imap:
            folders = imap.folders()
            cursors = {c.role: c for c in MailFolderCursor.objects.filter(account=account)}
            for role in (FolderRole.INBOX, FolderRole.SENT):
                if role in folders:
                    folder = FolderResult(role=role, name=folders[role])
                    result.folders.append(folder)
                    _folder_sync(account, token, imap, folder, cursors.get(role), progress)
    except MailServerError as exc:
        raise _Failure(str(exc), notify=True) from None
    except LeaseLost as exc:
        raise _Failure(str(exc), notify=False) from None


def _folder_sync(
    account: EmailAccount,
    token: str,
    imap: ImapMailbox,
    result: FolderResult,
    cursor: MailFolderCursor | None,
    progress: Progress | None,
) -> None:
    if (
        cursor is not None
        and cursor.name == result.name
        and _unchanged(cursor, imap.status(result.name))
    ):
        return
    state = imap.select(result.name)
    key = result.name[:FOLDER_COLUMN]
    if cursor is None or cursor.uidvalidity != state.uidvalidity or cursor.name != result.name:
        cursor = _cursor_reset(account, result, state, cursor)
    window = timezone.localdate() - timedelta(days=settings.HUB_EMAIL_SYNC_WINDOW_DAYS)
    known_uid = cursor.last_uid
    uids = imap.uids(after=cursor.last_uid, since=window if cursor.synced_at is None else None)
    if progress:
        progress(result.name, 0, len(uids))
    outbound = result.role == FolderRole.SENT
    done = 0
    sizes = imap.sizes(uids) if uids else {}
    for batch in _batches(uids, sizes):
        fetched = imap.fetch(batch, sizes=sizes, max_bytes=settings.HUB_EMAIL_MESSAGE_MAX_BYTES)
        prepared = batch_prepare(account=account, messages=fetched)
        with transaction.atomic():
            stored = batch_store(account=account, folder=key, outbound=outbound, prepared=prepared)
            cursor.last_uid = batch[-1]
            cursor.save(update_fields=["last_uid"])
            sync_lease_renew(account=account, token=token)
        result.new += stored.new
        result.duplicates += stored.duplicates
        result.broken += stored.broken
        done += len(batch)
        if progress:
            progress(result.name, done, len(uids))
    if cursor.highest_modseq is not None and state.highest_modseq not in (
        None,
        cursor.highest_modseq,
    ):
        changed = imap.flags_changed(since_modseq=cursor.highest_modseq, up_to_uid=known_uid)
        result.flags_updated = flags_apply(
            account=account, folder=key, changed=changed, flags_of=imap.flags
        )
    # Every UID below UIDNEXT was searched after the EXAMINE: nothing under it is left to take.
    cursor.last_uid = max(cursor.last_uid, (state.uidnext or 1) - 1)
    cursor.highest_modseq = state.highest_modseq
    cursor.synced_at = timezone.now()
    cursor.save(update_fields=["last_uid", "highest_modseq", "synced_at"])


def _batches(uids: list[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    """``HUB_EMAIL_SYNC_BATCH_SIZE`` UIDs at a time, fewer when what is fetched of them passes
    :data:`BATCH_MAX_BYTES` together (a large message goes alone; one over
    ``HUB_EMAIL_MESSAGE_MAX_BYTES`` weighs only its cut header and text), so memory stays
    bounded."""
    batch: list[int] = []
    weight = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if size > settings.HUB_EMAIL_MESSAGE_MAX_BYTES:
            size = OVERSIZE_FETCH_BYTES
        if batch and (
            len(batch) >= settings.HUB_EMAIL_SYNC_BATCH_SIZE or weight + size > BATCH_MAX_BYTES
        ):
            yield batch
            batch, weight = [], 0
        batch.append(uid)
        weight += size
    if batch:
        yield batch


def _unchanged(cursor: MailFolderCursor, state: FolderStatus) -> bool:
    """Nothing to do in the folder: no new UID, no flag change, the same UIDVALIDITY."""
    return (
        cursor.synced_at is not None
        and cursor.uidvalidity == state.uidvalidity
        and state.uidnext is not None
        and state.uidnext - 1 <= cursor.last_uid
        and state.highest_modseq == cursor.highest_modseq
    )


@transaction.atomic
def _cursor_reset(
    account: EmailAccount,
    result: FolderResult,
    state: FolderState,
    cursor: MailFolderCursor | None,
) -> MailFolderCursor:
    """Start the folder over from the window; the UIDs stored for it mean nothing any more."""
    result.resynced = True
    if cursor is not None:
        logger.info(
            "mail sync: account %s folder %s resyncs (UIDVALIDITY %s → %s)",
            account.pk,
            result.name,
            cursor.uidvalidity,
            state.uidvalidity,
        )
        Email.objects.filter(email_account=account, folder=cursor.name[:FOLDER_COLUMN]).update(
            uid=None
        )
    cursor, _ = MailFolderCursor.objects.update_or_create(
        account=account,
        role=result.role,
        defaults={
            "name": result.name,
            "uidvalidity": state.uidvalidity,
            "last_uid": 0,
            "highest_modseq": None,
            "synced_at": None,
        },
    )
    return cursor


def accounts_to_sync(*, now: datetime | None = None) -> QuerySet[EmailAccount]:
    """The scheduler's choice: active, ``sync_enabled`` accounts with an IMAP server whose
    lease nobody holds (no run, none queued) and that are not waiting after failed runs."""
    now = now or timezone.now()
    return (
        EmailAccount.objects.filter(is_active=True, sync_enabled=True)
        .exclude(imap_host__isnull=True)
        .exclude(imap_host="")
        .exclude(pk__in=sync_lease_held(now=now).values("account_id"))
        .exclude(pk__in=accounts_waiting_after_failures(now=now))
        .order_by("pk")
    )


def sync_retry_delay(failures: int) -> timedelta:
    """How long the scheduler leaves an account alone after ``failures`` failed runs in a row."""
    return timedelta(minutes=min(RETRY_MAX_MINUTES, 2 ** min(max(failures, 1) - 1, 6)))


def accounts_waiting_after_failures(*, now: datetime) -> list[int]:
    """Accounts in a failing spell whose last failure is more recent than
    :func:`sync_retry_delay` of their failures in a row (counted since their password last
    changed). One query for all accounts: the failed logs of each spell (since
    ``failing_since``, after the account's last completed run)."""
    last_completed = (
        EmailSyncLog.objects.filter(
            email_account=OuterRef("email_account"), status=SyncStatus.COMPLETED
        )
        .order_by("-sync_started_at")
        .values("sync_started_at")[:1]
    )
    spells = (
        EmailSyncLog.objects.filter(
            status=SyncStatus.FAILED,
            sync_completed_at__isnull=False,
            email_account__sync_state__failing_since__isnull=False,
            # The spell's first log ends just before failing_since is set, in the same commit.
            sync_completed_at__gte=F("email_account__sync_state__failing_since")
            - timedelta(minutes=1),
        )
        .alias(last_completed=Subquery(last_completed))
        .filter(Q(last_completed__isnull=True) | Q(sync_started_at__gt=F("last_completed")))
        .values_list("email_account_id", "email_account__password", "sync_completed_at")
    )
    failures: dict[int, list[datetime]] = {}
    passwords: dict[int, str] = {}
    for account_id, password, ended in spells:
        if ended is None:  # left out by the query; for the type checker
            continue
        failures.setdefault(account_id, []).append(ended)
        passwords[account_id] = password
    waiting = []
    for account_id, ends in failures.items():
        # A new password is tried at once, and its failures counted afresh.
        changed = _credential_set_at(passwords[account_id])
        since = [end for end in ends if changed is None or end >= changed]
        if since and now < max(since) + sync_retry_delay(len(since)):
            waiting.append(account_id)
    return waiting


def _credential_set_at(token: str) -> datetime | None:
    """When a Fernet token was made: its bytes 1–8, seconds since the epoch (the Fernet spec;
    key rotation keeps it, so only a new password moves it)."""
    try:
        raw = base64.urlsafe_b64decode(token.encode())
    except (ValueError, binascii.Error):
        return None
    if len(raw) < 9 or raw[0] != 0x80:
        return None
    return datetime.fromtimestamp(int.from_bytes(raw[1:9], "big"), tz=UTC)
