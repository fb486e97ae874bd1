"""Dramatiq actors of the hub's own periodic work (found by django_dramatiq: ``actors``)."""

from __future__ import annotations

import logging

import dramatiq

from hub.domain.calls.reconcile import calls_reconcile_stale
from hub.ops.retention import retention_run

logger = logging.getLogger(__name__)


# The scheduler sends this again on its next tick, so a failed run is not retried.
@dramatiq.actor(max_retries=0, time_limit=10 * 60 * 1000)
def calls_reconcile() -> None:
    """Correct from Twilio every call still not final after TWILIO_RECONCILE_AGE_SECONDS."""
    summary = calls_reconcile_stale()
    if summary.checked or summary.errors:
        logger.info("calls reconcile: %s", summary)


# On a worker, not in the scheduler, like every periodic job: the scheduler only enqueues.
# Not retried either: what a failed run left is old enough for the next one.
@dramatiq.actor(max_retries=0, time_limit=10 * 60 * 1000)
def retention_prune() -> None:
    """Delete the events past the replay window and the Twilio callbacks applied long ago."""
    retention_run()
