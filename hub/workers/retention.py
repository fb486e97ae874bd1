"""The retention area's Dramatiq actor: prune what is past keeping."""

from __future__ import annotations

import dramatiq

from hub.ops.retention import retention_run


# On a worker, not in the scheduler, like every periodic job: the scheduler only enqueues.
# Not retried either: what a failed run left is old enough for the next one.
@dramatiq.actor(max_retries=0, time_limit=10 * 60 * 1000)
def retention_prune() -> None:
    """Delete the events past the replay window and the Twilio callbacks applied long ago."""
    retention_run()
