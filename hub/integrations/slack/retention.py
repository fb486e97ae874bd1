"""Retention of the Slack tables: alerts long settled, event receipts and install states.

- ``hub_slack_alert``: alerts sent, failed or skipped more than :data:`ALERT_DAYS` days ago.
  Alerts still to post (pending, sending) are never deleted, however old.
- ``hub_slack_event_receipt``: an Events API delivery is retried by Slack within minutes, so a
  receipt older than :data:`RECEIPT_DAYS` day has done its work.
- ``hub_slack_oauth_state``: an "Add to Slack" state is used once and valid for minutes; used
  ones and any older than :data:`STATE_DAYS` day are deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from hub.domain.retention import Pruned, rows_prune
from hub.integrations.slack.models import (
    AlertStatus,
    SlackAlert,
    SlackEventReceipt,
    SlackOAuthState,
)

ALERT_DAYS = 30
RECEIPT_DAYS = 1
STATE_DAYS = 1
_SETTLED = (AlertStatus.SENT, AlertStatus.FAILED, AlertStatus.SKIPPED)


def slack_prune(
    *,
    now: datetime,
    batch_size: int,
    max_rows: int,
    dry_run: bool = False,
    progress: Callable[[Pruned], None] | None = None,
) -> list[Pruned]:
    """Prune the three Slack tables, a batch per transaction; one result per table."""

    def prune(table: str, where: str, params: list[object]) -> Pruned:
        return rows_prune(
            table=table,
            where=where,
            params=params,
            batch_size=batch_size,
            max_rows=max_rows,
            dry_run=dry_run,
            progress=progress,
        )

    return [
        prune(
            SlackAlert._meta.db_table,
            "status IN (%s, %s, %s) AND created_at < %s",
            [*(str(status) for status in _SETTLED), now - timedelta(days=ALERT_DAYS)],
        ),
        prune(
            SlackEventReceipt._meta.db_table,
            "received_at < %s",
            [now - timedelta(days=RECEIPT_DAYS)],
        ),
        prune(
            SlackOAuthState._meta.db_table,
            "(used_at IS NOT NULL OR created_at < %s)",
            [now - timedelta(days=STATE_DAYS)],
        ),
    ]
