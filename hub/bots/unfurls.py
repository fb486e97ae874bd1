"""Links to the console's deal, lead and call pages unfold into their cards.

``link_shared`` enqueues ``slack_links_unfurl`` (``hub/workers/slack_events.py``), which
checks who shared the links and what they may see (``hub/bots/unfurl_cards.py``) and calls
``chat.unfurl`` once for the message; Slack hears its answer at once.
"""

from __future__ import annotations

import logging

from slack_bolt import App, BoltContext

from hub.bots.unfurl_cards import LINKS_MAX
from hub.workers.slack_events import slack_links_unfurl

logger = logging.getLogger(__name__)


def _urls(event: dict) -> list[str]:
    links = event.get("links") or []
    urls = [str(link.get("url") or "") for link in links if isinstance(link, dict)]
    return [url for url in dict.fromkeys(urls) if url][:LINKS_MAX]


def register(app: App, *, installation_key: str) -> None:
    def link_shared(event: dict, context: BoltContext) -> None:
        urls = _urls(event)
        slack_user_id = str(event.get("user") or "")
        if not urls or not slack_user_id:
            return
        try:
            slack_links_unfurl.send(
                installation_id=context[installation_key].pk,
                slack_user_id=slack_user_id,
                urls=urls,
                channel=str(event.get("channel") or ""),
                ts=str(event.get("message_ts") or ""),
                source=str(event.get("source") or ""),
                unfurl_id=str(event.get("unfurl_id") or ""),
            )
        except Exception:
            logger.exception("slack link_shared: could not queue the unfurl")

    app.event("link_shared")(link_shared)
