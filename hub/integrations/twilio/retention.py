"""Retention of the Twilio inbox (``hub_twilio_callback``): delete callbacks applied long ago.

Only rows that were applied: a row never applied, still being retried, or given up after
``MAX_ATTEMPTS`` (``processed_at`` set, outcome ``skipped after ...``, ``last_error`` kept) is
what an operator must see and may queue again from the console, so it is never deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hub.domain.retention import Pruned, rows_prune
from hub.integrations.twilio.inbox import GAVE_UP
from hub.integrations.twilio.models import TwilioCallback


def inbox_prune(
    *,
    older_than: datetime,
    batch_size: int,
    max_rows: int,
    dry_run: bool = False,
    progress: Callable[[Pruned], None] | None = None,
) -> Pruned:
    """Delete the callbacks applied before ``older_than``, a batch per transaction."""
    return rows_prune(
        table=TwilioCallback._meta.db_table,
        # GAVE_UP holds no LIKE wildcard (% or _).
        where="processed_at < %s AND outcome NOT LIKE %s",
        params=[older_than, f"{GAVE_UP}%"],
        batch_size=batch_size,
        max_rows=max_rows,
        dry_run=dry_run,
        progress=progress,
    )
