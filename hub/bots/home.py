"""App Home: the member's open deals, the pipeline, today's and missed calls.

Opening the Home tab (``app_home_opened``) or clicking its Refresh button enqueues
``slack_home_publish`` (``hub/workers/slack_events.py``), which builds the tab
(``hub/bots/home_view.py``) and publishes it; Slack hears its answer at once.
"""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext

from hub.bots.home_view import REFRESH_ACTION
from hub.integrations.slack.models import SlackInstallation
from hub.workers.slack_events import slack_home_publish

logger = logging.getLogger(__name__)


def _publish_later(installation: SlackInstallation, slack_user_id: str) -> None:
    if not slack_user_id:
        return
    try:
        slack_home_publish.send(installation_id=installation.pk, slack_user_id=slack_user_id)
    except Exception:
        # Slack does not show an event's answer to anyone: the Home stays as it was.
        logger.exception("slack App Home: could not queue the publish for %s", slack_user_id)


def register(app: App, *, installation_key: str) -> None:
    def home_opened(event: dict, context: BoltContext) -> None:
        if event.get("tab") == "home":
            _publish_later(context[installation_key], str(event.get("user") or ""))

    def home_refresh(ack: Ack, body: dict, context: BoltContext) -> None:
        ack()
        _publish_later(context[installation_key], str((body.get("user") or {}).get("id") or ""))

    app.event("app_home_opened")(home_opened)
    app.action(REFRESH_ACTION)(home_refresh)
