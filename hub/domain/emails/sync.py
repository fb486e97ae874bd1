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
  weigh more than :data:`BATCH_MAX_BYTES` together); each batch is stored in one transaction
  that also moves the cursor to its last UID and renews the lease, so a run that dies resumes
  after the last batch it committed, without loss or duplicate. Until a folder's first sync
  has finished (``synced_at`` unset) resuming keeps to the window.
- With CONDSTORE, \\Seen and \\Flagged changes since the cursor's HIGHESTMODSEQ follow on the
  stored messages. Without it flags are read only when a message is first stored.
- A folder whose UIDNEXT and HIGHESTMODSEQ did not move is skipped without a search, so a run
  with nothing new is a handful of round trips.

Expunged messages are not followed (the hub keeps what it synced). An authentication failure,
an unreachable server or a credential that cannot be decrypted fails the run with a clear
reason; the owner is notified once per failing spell (``sync_state``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from hub.domain.emails.crypto import CredentialError, credential_decrypt
from hub.domain.emails.models import (
    Email,
    EmailAccount,
    FolderRole,
    MailFolderCursor,
    SyncStatus,
)
from hub.domain.emails.sync_state import (
    LeaseLost,
    sync_lease_held,
    sync_lease_renew,
    sync_run_finish,
    sync_run_start,
)
from hub.domain.emails.sync_store import batch_prepare, batch_store, flags_apply
from hub.integrations.mail.imap import FolderState, ImapMailbox, MailServerError

logger = logging.getLogger(__name__)

ALREADY_RUNNING = "already_running"
FOLDER_COLUMN = 64  # emails_email.folder
# What one batch may weigh (the raw messages held in memory at once).
BATCH_MAX_BYTES = 32 * 1024 * 1024

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


def mailbox_sync(*, account: EmailAccount, progress: Progress | None = None) -> SyncResult:
    """Sync the account's INBOX and Sent folder once. Not atomic on purpose: each batch
    commits on its own so that a long first sync keeps what it did."""
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
            error="The sync stopped on an internal error.",
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
    state = imap.select(result.name)
    key = result.name[:FOLDER_COLUMN]
    if cursor is None or cursor.uidvalidity != state.uidvalidity or cursor.name != result.name:
        cursor = _cursor_reset(account, result, state, cursor)
    elif _unchanged(cursor, state):
        return
    window = timezone.localdate() - timedelta(days=settings.HUB_EMAIL_SYNC_WINDOW_DAYS)
    known_uid = cursor.last_uid
    uids = imap.uids(after=cursor.last_uid, since=window if cursor.synced_at is None else None)
    if progress:
        progress(result.name, 0, len(uids))
    outbound = result.role == FolderRole.SENT
    done = 0
    for batch in _batches(uids, imap.sizes(uids) if uids else {}):
        prepared = batch_prepare(account=account, messages=imap.fetch(batch))
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
    """``HUB_EMAIL_SYNC_BATCH_SIZE`` UIDs at a time, fewer when their messages together pass
    :data:`BATCH_MAX_BYTES` (a large message goes alone), so memory stays bounded."""
    batch: list[int] = []
    weight = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (
            len(batch) >= settings.HUB_EMAIL_SYNC_BATCH_SIZE or weight + size > BATCH_MAX_BYTES
        ):
            yield batch
            batch, weight = [], 0
        batch.append(uid)
        weight += size
    if batch:
        yield batch


def _unchanged(cursor: MailFolderCursor, state: FolderState) -> bool:
    return (
        cursor.synced_at is not None
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


def accounts_to_sync() -> QuerySet[EmailAccount]:
    """Active, ``sync_enabled`` accounts with an IMAP server whose lease nobody holds."""
    return (
        EmailAccount.objects.filter(is_active=True, sync_enabled=True)
        .exclude(imap_host__isnull=True)
        .exclude(imap_host="")
        .exclude(pk__in=sync_lease_held().values("account_id"))
        .order_by("pk")
    )
