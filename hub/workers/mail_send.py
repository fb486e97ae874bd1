"""Sending e-mail: one message per queued e-mail, and the sweep that finds lost ones.

``mail_send`` is not retried by Dramatiq: the delivery row counts the tries, and a temporary
failure sends the message again itself, delayed by the backoff the domain computed
(hub/domain/emails/delivery.py). A message lost on the way is found by ``mail_send_sweep``
(every ``HUB_EMAIL_SEND_SWEEP_SECONDS``) once its delivery is a minute overdue.
"""

from __future__ import annotations

import dramatiq

from hub.domain.emails import delivery, sending

QUEUE = "mail"


@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=int(delivery.claim_seconds() * 1000))
def mail_send(email_id: int) -> None:
    result = delivery.email_deliver(email_id=email_id)
    if result.retry_in is not None:
        mail_send.send_with_options(
            kwargs={"email_id": email_id}, delay=max(1, int(result.retry_in * 1000))
        )


# Not retried: the next scheduled run does what this one did not.
@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=60_000)
def mail_send_sweep() -> None:
    for email_id in delivery.email_deliveries_stalled():
        mail_send.send(email_id=email_id)


def _enqueue(email_id: int) -> None:
    mail_send.send(email_id=email_id)


# The domain queues e-mail without importing this room: it calls what is connected here.
sending.email_send_connect(_enqueue)
