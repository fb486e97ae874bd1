"""The calls area's Dramatiq actors: the periodic reconciliation with Twilio."""

from __future__ import annotations

import logging

import dramatiq

from hub.domain.calls.reconcile import calls_reconcile_stale

logger = logging.getLogger(__name__)


# The scheduler sends this again on its next tick, so a failed run is not retried.
@dramatiq.actor(max_retries=0, time_limit=10 * 60 * 1000)
def calls_reconcile() -> None:
    """Correct from Twilio every call still not final after TWILIO_RECONCILE_AGE_SECONDS."""
    summary = calls_reconcile_stale()
    if summary.checked or summary.errors:
        logger.info("calls reconcile: %s", summary)
