"""The ``lead_created`` / ``deal_created`` e-mail rules: the scheduler's job every
``HUB_EMAIL_RULES_INTERVAL_SECONDS`` runs the rules of the leads and deals logged since."""

from __future__ import annotations

import dramatiq

from hub.domain.emails.rule_events import rules_collect

QUEUE = "mail"


# Not retried: the next scheduled run takes the events this one did not.
@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=5 * 60_000)
def mail_rules_collect() -> None:
    rules_collect()
