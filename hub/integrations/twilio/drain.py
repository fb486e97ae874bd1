"""The inbox's doorbell and drain: a stored callback rings for a drain, a drain applies batches.

A webhook stores its callback and rings the doorbell (:func:`drain_kick`): a drain message
(``twilio_inbox_drain``, hub/workers/twilio.py), unless one is on its way already. The drain
(:func:`drain_run`) applies every row waiting, a batch (``HUB_TWILIO_BATCH_SIZE``) per
transaction. At a handful of callbacks a second each gets its own drain; under load one drain
takes many, so the cost of a message and of a transaction is shared. The actors are given to
these functions: this module sends their messages, and imports none.
"""

from __future__ import annotations

import logging
import time

import dramatiq
from django.conf import settings
from dramatiq.brokers.redis import RedisBroker

from hub.integrations.twilio import inbox

logger = logging.getLogger(__name__)

# A drain takes batches for at most this long, then hands over to a new message.
DRAIN_SECONDS = 1.0
# The doorbell's flag lives this long at most: a drain message lost with its worker stops
# holding back new ones after this (and the sweeper finds the rows meanwhile).
DOORBELL_TTL_SECONDS = 5
# A drain starting this soon after the one before (in this process) waits HUB_TWILIO_BATCH_WAIT_MS.
BUSY_WITHIN_SECONDS = 0.1
_last_drain = float("-inf")


def drain_kick(drain: dramatiq.Actor) -> None:
    """Make sure a drain will run after this: send one unless one is on its way already.

    On Redis, a flag set with ``SET NX`` says a drain is on its way; the drain clears it before
    it claims rows. Other brokers get a message each time (a drain finding nothing is cheap).
    Raises when the broker cannot be reached: the caller's row is stored, the sweeper finds it.
    """
    broker = drain.broker
    if not isinstance(broker, RedisBroker):
        drain.send()
        return
    if not broker.client.set(doorbell_key(broker), "1", nx=True, ex=DOORBELL_TTL_SECONDS):
        return
    try:
        drain.send()
    except Exception:
        broker.client.delete(doorbell_key(broker))
        raise


def doorbell_key(broker: RedisBroker) -> str:
    return f"{broker.namespace}:hub-twilio-drain-due"


def _doorbell_clear(drain: dramatiq.Actor) -> None:
    broker = drain.broker
    if isinstance(broker, RedisBroker):
        broker.client.delete(doorbell_key(broker))


def drain_run(*, drain: dramatiq.Actor, process: dramatiq.Actor) -> None:
    """Apply the waiting rows, batch after batch, for up to ``DRAIN_SECONDS``; each row a batch
    leaves is sent to ``process`` (applied alone), and a full batch rings for another drain."""
    global _last_drain
    started, last = time.monotonic(), _last_drain
    _last_drain = started
    wait = settings.HUB_TWILIO_BATCH_WAIT_MS / 1000
    if wait and started - last < BUSY_WITHIN_SECONDS:
        # Callbacks are coming in quick succession: let the next few join this batch (the
        # doorbell stays set meanwhile, so they send no drain of their own). A quiet line's
        # callback is applied at once.
        time.sleep(wait)
    # Cleared before the first claim: a row stored after this rings again, one stored before
    # is seen by the claim.
    _doorbell_clear(drain)
    deadline = time.monotonic() + DRAIN_SECONDS
    limit = settings.HUB_TWILIO_BATCH_SIZE
    while True:
        drained = inbox.inbox_drain(limit=limit)
        for callback_id, delay in drained.again:
            _send_alone(process, callback_id, delay)
        if drained.claimed < limit:
            return
        # A full batch: more may wait. Another worker thread can take the next batch meanwhile.
        drain_kick(drain)
        if time.monotonic() >= deadline:
            return


def _send_alone(process: dramatiq.Actor, callback_id: int, delay: int) -> None:
    try:
        process.send_with_options(args=(callback_id,), delay=delay)
    except Exception:  # attempted once and stored: the sweeper enqueues it once the broker is back
        logger.exception("twilio callback %s to be applied again, but not enqueued", callback_id)
