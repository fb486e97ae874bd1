"""Slack alerts: turn new events of the log into Slack messages and post them, in order.

``slack_alerts_collect`` runs every ``HUB_SLACK_ALERTS_INTERVAL_SECONDS`` (the scheduler's job):
it routes the events logged since its last run to alerts, then enqueues a
``slack_alerts_deliver`` for each workspace with alerts to post. A delivery that must wait (a
429's ``Retry-After``, a backoff) enqueues itself again for then; the next collect run enqueues
any workspace whose alerts are due again anyway, so a lost message delays, never drops, alerts.
"""

from __future__ import annotations

import dramatiq
from django.utils import timezone

from hub.bots.alerts import alert_message
from hub.integrations.slack import alert_delivery, alerts

QUEUE = "slack"


# Not retried: the next scheduled run does what this one did not.
@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=60_000)
def slack_alerts_collect() -> None:
    alerts.slack_alerts_collect()
    for installation_id in alerts.slack_alerts_due(now=timezone.now()):
        slack_alerts_deliver.send(installation_id=installation_id)


# Not retried either: an alert a failed run left ``sending`` is taken again once its lease ends.
@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=5 * 60_000)
def slack_alerts_deliver(installation_id: int) -> None:
    delivery = alert_delivery.slack_alerts_deliver(installation_id, render=alert_message)
    if delivery.retry_in is not None:
        slack_alerts_deliver.send_with_options(
            kwargs={"installation_id": installation_id}, delay=int(delivery.retry_in * 1000)
        )
