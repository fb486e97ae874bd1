"""What a sync run keeps beside the mail: the lease (one run per account however many
workers), the sync log row, and the failure the owner was told about (once per failing spell).

A run's start (lease and log) and its end (log, failure, lease given back) are one commit
each, so that other workers see the lease the moment it is taken or given back. A run that
takes over a lease past its end (its holder died: a worker killed or crashed) fails the dead
run's log in the same commit, so no log stays "running" for good.
"""

from __future__ import annotations

import logging
import sys
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from hub.domain.emails.models import (
    EmailAccount,
    EmailSyncLog,
    MailFolderCursor,
    MailSyncState,
    SyncStatus,
)
from hub.domain.notifications.models import NotificationType
from hub.domain.notifications.services import notification_create

logger = logging.getLogger(__name__)

INTERNAL_ERROR = "The sync stopped on an internal error."
CRASHED = "The run stopped without finishing (the worker was stopped or crashed)."
_OPERATORS_TOLD = "The hub's operators were told (it is in the hub's error log)."


class LeaseLost(Exception):
    """Another run took the account over (this one outlived its lease)."""


def _lease_end():
    return timezone.now() + timedelta(seconds=settings.HUB_EMAIL_SYNC_LEASE_SECONDS)


@transaction.atomic(savepoint=False)  # no savepoint inside sync_run_start: nothing to undo alone
def sync_lease_claim(*, account: EmailAccount) -> str | None:
    """Take the account's lease; returns its token, or None when another run holds it.

    A lease past its end is taken over: the run that held it died, so its ``running`` logs
    are failed (:data:`CRASHED`) in this transaction."""
    token = uuid.uuid4().hex
    if _lease_take(account, token, Q(lease_until__isnull=True)):
        return token
    if _lease_take(account, token, Q(lease_until__lt=timezone.now())):
        _dead_runs_fail(account)
        return token
    # No row yet (the account's first run), or one held by another run.
    _, created = MailSyncState.objects.get_or_create(account=account)
    return token if created and _lease_take(account, token, Q(lease_until__isnull=True)) else None


def _lease_take(account: EmailAccount, token: str, free: Q) -> bool:
    now = timezone.now()
    return bool(
        MailSyncState.objects.filter(free, account=account).update(
            lease_until=_lease_end(), lease_token=token, updated_at=now
        )
    )


def _dead_runs_fail(account: EmailAccount) -> None:
    failed = EmailSyncLog.objects.filter(email_account=account, status=SyncStatus.RUNNING).update(
        status=SyncStatus.FAILED, error_message=CRASHED, sync_completed_at=timezone.now()
    )
    if failed:
        logger.warning(
            "mail sync of account %s: took over an expired lease; %d run(s) marked failed",
            account.pk,
            failed,
        )


def sync_lease_renew(*, account: EmailAccount, token: str) -> None:
    renewed = MailSyncState.objects.filter(account=account, lease_token=token).update(
        lease_until=_lease_end(), updated_at=timezone.now()
    )
    if not renewed:
        raise LeaseLost(
            "Another sync run took this account over: this one outlived its lease "
            "(HUB_EMAIL_SYNC_LEASE_SECONDS)."
        )


def sync_lease_release(*, account: EmailAccount, token: str, succeeded: bool) -> None:
    """Give the lease back; a success also ends a failing spell (the next failure notifies)."""
    fields: dict = {"lease_until": None, "lease_token": "", "updated_at": timezone.now()}
    if succeeded:
        fields |= {"last_error": "", "failing_since": None, "owner_notified_at": None}
    MailSyncState.objects.filter(account=account, lease_token=token).update(**fields)


def sync_lease_held(*, now=None) -> QuerySet[MailSyncState]:
    return MailSyncState.objects.filter(lease_until__gte=now or timezone.now())


@transaction.atomic
def sync_run_start(*, account: EmailAccount) -> tuple[str, EmailSyncLog] | None:
    """Take the lease and open the run's log (one commit); None when another run holds it."""
    token = sync_lease_claim(account=account)
    if token is None:
        return None
    log = EmailSyncLog.objects.create(
        email_account=account, sync_started_at=timezone.now(), status=SyncStatus.RUNNING
    )
    return token, log


@transaction.atomic
def sync_run_finish(
    *,
    account: EmailAccount,
    token: str,
    log: EmailSyncLog,
    synced: int,
    error: str | None = None,
    notify: bool = False,
    internal: bool = False,
) -> None:
    """Complete (or fail, with the reason) the run's log, record a failure (``notify``: one
    the owner should hear of) and give the lease back; a success sets ``last_sync``.

    ``internal``: the run stopped on an exception, the one being handled (call this from the
    ``except`` block). An error (an ``Exception``) is logged with its traceback at ERROR, the
    log says :data:`INTERNAL_ERROR` and the owner is told, once per failing spell as of any
    failure, that the hub's operators were told. Anything else (the worker's shutdown or time
    limit, Ctrl-C) is no failure of the sync: the log says :data:`CRASHED`, nobody is told."""
    if internal:
        error, notify = _internal(account)
    now = timezone.now()
    log.sync_completed_at = now
    log.emails_synced = synced
    log.status = SyncStatus.FAILED if error else SyncStatus.COMPLETED
    log.error_message = error
    log.save(update_fields=["sync_completed_at", "emails_synced", "status", "error_message"])
    if error is None:
        EmailAccount.objects.filter(pk=account.pk).update(last_sync=now)
        account.last_sync = now
    elif notify:
        sync_failure_record(account=account, reason=error, internal=internal)
    sync_lease_release(account=account, token=token, succeeded=error is None)


def _internal(account: EmailAccount) -> tuple[str, bool]:
    stopped = sys.exc_info()[1]
    if stopped is not None and not isinstance(stopped, Exception):
        logger.warning("mail sync of account %s was stopped (%r)", account.pk, stopped)
        return CRASHED, False
    logger.error("mail sync of account %s stopped on an internal error", account.pk, exc_info=True)
    return INTERNAL_ERROR, True


@transaction.atomic
def sync_failure_record(*, account: EmailAccount, reason: str, internal: bool = False) -> bool:
    """Remember a failed run; tell the owner if this failing spell has not been told yet
    (``internal``: the notice says the hub's operators were told). Returns whether the owner
    was notified now."""
    state, _ = MailSyncState.objects.select_for_update().get_or_create(account=account)
    now = timezone.now()
    state.last_error = reason
    state.failing_since = state.failing_since or now
    notify = state.owner_notified_at is None
    if notify:
        told = f" {_OPERATORS_TOLD}" if internal else ""
        notification_create(
            user=account.user,
            title=f"E-mail sync of {account.email} failed",
            message=(
                f"The hub could not sync {account.email}: {reason}{told} It will try again "
                "in a minute, then less and less often (at most once an hour) until it works, "
                "the password is changed, or Sync now is pressed; you are told again only "
                "after it has worked once."
            ),
            type=NotificationType.WARNING,
        )
        state.owner_notified_at = now
    state.save(update_fields=["last_error", "failing_since", "owner_notified_at", "updated_at"])
    return notify


@transaction.atomic
def folder_cursors_reset(*, cursors: QuerySet[MailFolderCursor]) -> tuple[int, int]:
    """Delete the cursors (the next sync reads those folders again from the sync window), but
    not those of a mailbox whose sync holds its lease now: that run would write them back.
    Return how many were reset and how many were left."""
    chosen = MailFolderCursor.objects.filter(pk__in=cursors.values("pk"))
    # Locking the leases keeps a run from starting on these mailboxes until the reset commits.
    leases = MailSyncState.objects.select_for_update().filter(
        account_id__in=chosen.values("account_id")
    )
    now = timezone.now()
    busy = [pk for pk, until in leases.values_list("pk", "lease_until") if until and until >= now]
    left = chosen.filter(account_id__in=busy).count()
    count, _ = chosen.exclude(account_id__in=busy).delete()
    return count, left
