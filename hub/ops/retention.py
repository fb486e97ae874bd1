"""One retention run over every table that has one, with its metrics.

Called by the ``retention_prune`` actor (the scheduler's job) and by ``manage.py hub_prune``.
The deleting is the domain's and the inbox's; the metrics are recorded here, because the
domain does not import ``hub.ops``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from hub.domain.events.retention import event_log_prune
from hub.domain.retention import Pruned, table_size_bytes
from hub.integrations.slack.retention import slack_prune
from hub.integrations.twilio.retention import inbox_prune
from hub.ops import metrics

logger = logging.getLogger(__name__)


def retention_run(
    *, dry_run: bool = False, progress: Callable[[Pruned], None] | None = None
) -> list[Pruned]:
    """Prune the event log, the Twilio inbox and the Slack tables as the settings say; one
    result per table."""
    now = timezone.now()
    batch_size, max_rows = settings.HUB_RETENTION_BATCH_SIZE, settings.HUB_RETENTION_MAX_ROWS
    results = [
        event_log_prune(
            older_than=now - timedelta(seconds=settings.HUB_REPLAY_WINDOW_SECONDS),
            batch_size=batch_size,
            max_rows=max_rows,
            dry_run=dry_run,
            progress=progress,
        ),
        inbox_prune(
            older_than=now - timedelta(days=settings.HUB_TWILIO_CALLBACK_RETENTION_DAYS),
            batch_size=batch_size,
            max_rows=max_rows,
            dry_run=dry_run,
            progress=progress,
        ),
        *slack_prune(
            now=now, batch_size=batch_size, max_rows=max_rows, dry_run=dry_run, progress=progress
        ),
    ]
    for pruned in results:
        if not dry_run:
            # inc(0) too: the series exists from the first run, not from the first deletion.
            metrics.RETENTION_DELETED.labels(table=pruned.table).inc(pruned.deleted)
            if pruned.deleted:
                logger.info(
                    "retention: deleted %d rows of %s in %d batches%s",
                    pruned.deleted,
                    pruned.table,
                    len(pruned.batches),
                    " (capped: more next run)" if pruned.capped else "",
                )
        size = table_size_bytes(pruned.table)
        if size is not None:
            metrics.TABLE_SIZE.labels(table=pruned.table).set(size)
    return results
