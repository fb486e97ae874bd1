"""The mail sync's Dramatiq actors: the scheduler's tick and one account's run.

``mail_sync_all`` runs every ``HUB_EMAIL_SYNC_INTERVAL_SECONDS`` (the scheduler's job) and
enqueues ``mail_sync_account`` for each account due (active, ``sync_enabled``, with an IMAP
server, its lease free); the lease in ``mailbox_sync`` keeps it to one run per account even when
two messages for it meet on two workers.
"""

from __future__ import annotations

import logging

import dramatiq

from hub.domain.emails.models import EmailAccount
from hub.domain.emails.sync import accounts_to_sync, mailbox_sync

logger = logging.getLogger(__name__)

QUEUE = "mail"


# Not retried: the next tick is the retry.
@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=60_000)
def mail_sync_all() -> None:
    for account_id in accounts_to_sync().values_list("pk", flat=True):
        mail_sync_account.send(account_id=account_id)


# Not retried either: a failed run is recorded (and its owner told); the next tick tries again.
# A first sync of a large mailbox takes minutes; the batches it committed are kept anyway.
@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=60 * 60_000)
def mail_sync_account(account_id: int) -> None:
    account = (
        EmailAccount.objects.select_related("user")
        .filter(pk=account_id, is_active=True, sync_enabled=True)
        .first()
    )
    if account is None:
        logger.info("mail sync: account %s is gone or not syncing; skipped", account_id)
        return
    result = mailbox_sync(account=account)
    logger.info(
        "mail sync of account %s: %s, %s new, %s duplicates, %s flags, %s broken",
        account_id,
        result.status,
        result.new,
        result.duplicates,
        result.flags_updated,
        result.broken,
    )
