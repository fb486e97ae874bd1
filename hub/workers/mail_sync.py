"""The mail sync's Dramatiq actors, on their own queue (``mail_sync``): the scheduler's tick and
one account's run. A backlog of syncs (each one an IMAP login) then never sits in front of the
sends and rules of the ``mail`` queue, and a worker that has both takes a send first (the sync
actors' lower priority).

``mail_sync_all`` runs every ``HUB_EMAIL_SYNC_INTERVAL_SECONDS`` (the scheduler's job). For each
account due (``accounts_to_sync``: active, ``sync_enabled``, with an IMAP server, its lease free,
not waiting after failed runs) it claims the account's lease, then enqueues
``mail_sync_account`` with the lease's token. A queued run thus holds the lease as a running
one does, so later ticks queue nothing more for that account until the run has started and
ended, or the lease (``HUB_EMAIL_SYNC_LEASE_SECONDS``) has run out because the message was
lost or waits behind a backlog that long: at most one message per account per lease period,
with no marker outside the table that already says "taken". The run takes its lease over from
the token; a message whose lease a later tick claimed again is stale and does nothing. A run
asked for by hand (the admin's "Sync now") carries no token: while a queued run holds the
lease it is "already running", which it nearly is.
"""

from __future__ import annotations

import logging

import dramatiq

from hub.domain.emails.models import EmailAccount
from hub.domain.emails.sync import accounts_to_sync, mailbox_sync
from hub.domain.emails.sync_state import sync_lease_claim

logger = logging.getLogger(__name__)

QUEUE = "mail_sync"
# Dramatiq runs a lower number first: a worker holding a send and a sync takes the send.
PRIORITY = 10


# Not retried: the next tick is the retry.
@dramatiq.actor(queue_name=QUEUE, priority=PRIORITY, max_retries=0, time_limit=60_000)
def mail_sync_all() -> None:
    for account in accounts_to_sync().only("pk"):
        token = sync_lease_claim(account=account)
        if token is not None:
            mail_sync_account.send(account_id=account.pk, lease=token)


# Not retried either: a failed run is recorded (and its owner told); a later tick tries again.
# A first sync of a large mailbox takes minutes; the batches it committed are kept anyway.
@dramatiq.actor(queue_name=QUEUE, priority=PRIORITY, max_retries=0, time_limit=60 * 60_000)
def mail_sync_account(account_id: int, lease: str | None = None) -> None:
    account = (
        EmailAccount.objects.select_related("user")
        .filter(pk=account_id, is_active=True, sync_enabled=True)
        .first()
    )
    if account is None:
        logger.info("mail sync: account %s is gone or not syncing; skipped", account_id)
        return
    result = mailbox_sync(account=account, lease=lease)
    logger.info(
        "mail sync of account %s: %s, %s new, %s duplicates, %s flags, %s broken",
        account_id,
        result.status,
        result.new,
        result.duplicates,
        result.flags_updated,
        result.broken,
    )
