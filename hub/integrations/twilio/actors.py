"""Dramatiq actors of the Twilio inbox: process one stored callback; sweep what was missed.

``twilio_inbox_sweep`` is run every ``HUB_TWILIO_SWEEP_SECONDS`` by the scheduler process.
"""

from __future__ import annotations

import dramatiq

from hub.integrations.twilio import inbox

QUEUE = "twilio"


@dramatiq.actor(queue_name=QUEUE, max_retries=5, min_backoff=500, max_backoff=30_000)
def twilio_callback_process(callback_id: int) -> None:
    try:
        inbox.callback_process(callback_id)
    except inbox.NotYet as exc:
        # Expected while callbacks arrive out of order: retry without logging an error.
        raise dramatiq.Retry(str(exc), delay=1000) from exc


@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=60_000)
def twilio_inbox_sweep() -> None:
    inbox.inbox_sweep(enqueue=twilio_callback_process.send)
