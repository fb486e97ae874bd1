"""Slack Events API work: publish App Home, unfurl links.

The listeners (``hub/bots/home.py``, ``hub/bots/unfurls.py``) only enqueue these, so Slack has
its answer at once. Slack's 429 is waited out (``Retry-After``) and an unreachable Slack is
tried again with back-off, a few times; a refusal (a missing scope, a revoked token) is logged
and dropped: trying again would not change Slack's mind.
"""

from __future__ import annotations

import logging
import math

import dramatiq

from hub.bots.home_view import home_publish
from hub.bots.unfurl_cards import links_unfurl
from hub.integrations.slack.client import SlackError
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import slack_installation_get, slack_installation_is_on

logger = logging.getLogger(__name__)

QUEUE = "slack"
RETRIES = 5


def _installation(installation_id: int) -> SlackInstallation | None:
    installation = slack_installation_get(installation_id)
    if installation is None or not slack_installation_is_on(installation):
        return None
    return installation


def _again_or_drop(exc: SlackError, what: str) -> None:
    """Raise dramatiq's Retry when Slack asked to wait or could not be reached; else log."""
    if exc.retry_after is not None:
        raise dramatiq.Retry(str(exc), delay=math.ceil(exc.retry_after * 1000)) from exc
    if exc.code is None:
        raise dramatiq.Retry(str(exc)) from exc
    logger.warning("slack %s: given up: %s", what, exc)


@dramatiq.actor(queue_name=QUEUE, max_retries=RETRIES, min_backoff=1_000, time_limit=60_000)
def slack_home_publish(*, installation_id: int, slack_user_id: str) -> None:
    installation = _installation(installation_id)
    if installation is None:
        return
    try:
        home_publish(installation=installation, slack_user_id=slack_user_id)
    except SlackError as exc:
        _again_or_drop(exc, f"App Home of {slack_user_id}")


@dramatiq.actor(queue_name=QUEUE, max_retries=RETRIES, min_backoff=1_000, time_limit=60_000)
def slack_links_unfurl(
    *,
    installation_id: int,
    slack_user_id: str,
    urls: list[str],
    channel: str = "",
    ts: str = "",
    source: str = "",
    unfurl_id: str = "",
) -> None:
    installation = _installation(installation_id)
    if installation is None:
        return
    try:
        links_unfurl(
            installation=installation,
            slack_user_id=slack_user_id,
            urls=urls,
            channel=channel,
            ts=ts,
            source=source,
            unfurl_id=unfurl_id,
        )
    except SlackError as exc:
        _again_or_drop(exc, f"unfurl for {slack_user_id}")
