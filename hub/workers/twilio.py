"""The Twilio inbox's Dramatiq actors (queue ``twilio``): apply stored callbacks in batches or one
alone, and sweep what the broker missed (``twilio_inbox_sweep``, run every
``HUB_TWILIO_SWEEP_SECONDS`` by the scheduler). The doorbell and the drain's loop are
``hub.integrations.twilio.drain``'s; the applying is the calls domain's.
"""

from __future__ import annotations

import dramatiq

from hub.domain.calls.callbacks import NOT_YET_DELAY_MS, NotYet
from hub.integrations.twilio import drain, inbox

QUEUE = "twilio"


@dramatiq.actor(queue_name=QUEUE, max_retries=5, min_backoff=500, max_backoff=30_000)
def twilio_callback_process(callback_id: int) -> None:
    try:
        inbox.callback_process(callback_id)
    except NotYet as exc:
        # Expected while callbacks arrive out of order: retry without logging an error.
        raise dramatiq.Retry(str(exc), delay=NOT_YET_DELAY_MS) from exc


@dramatiq.actor(queue_name=QUEUE, max_retries=5, min_backoff=500, max_backoff=30_000)
def twilio_inbox_drain() -> None:
    drain.drain_run(drain=twilio_inbox_drain, process=twilio_callback_process)


@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=60_000)
def twilio_inbox_sweep() -> None:
    inbox.inbox_sweep(enqueue=twilio_callback_process.send)
