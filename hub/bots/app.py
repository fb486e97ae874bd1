"""The Slack app (Bolt): one per signing secret, its workspaces found in hub_slack_installation.

Bolt verifies every request's signature and timestamp (401 otherwise) before any listener runs.
``process_before_response=True``: listeners run in the request's own thread and the HTTP answer
waits for them, so Django manages their database connection and nothing runs after the answer
on a thread that dies with the process. Listeners only look things up and enqueue; anything
slow (Twilio) runs in a Dramatiq actor.
"""

from __future__ import annotations

import logging
from functools import cache

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context import BoltContext

from hub.bots import calls, deals, home, leads, unfurls
from hub.bots.messages import HUB_ERROR, not_installed
from hub.integrations.slack.services import slack_event_claim, slack_installation_for_team

logger = logging.getLogger(__name__)

INSTALLATION = "hub_installation"


def _authorize(context: BoltContext, enterprise_id, team_id, user_id) -> AuthorizeResult:
    """Find the workspace's installation; an unknown one still passes, to be told so."""
    installation = slack_installation_for_team(team_id)
    context[INSTALLATION] = installation
    return AuthorizeResult(
        enterprise_id=enterprise_id,
        team_id=team_id,
        user_id=user_id,
        bot_user_id=(installation.bot_user_id or None) if installation else None,
    )


def _installation_required(body: dict, context: BoltContext, next) -> BoltResponse | None:
    if context.get(INSTALLATION) is not None:
        return next()
    logger.warning("slack request from a workspace not installed: %s", context.team_id)
    if _interactive(body):
        text = not_installed(context.team_id)
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
    return BoltResponse(status=200, body="")


def _event_once(body: dict, next) -> BoltResponse | None:
    """Take each Events API delivery once: Slack's retries of an ``event_id`` do nothing again."""
    if body.get("type") != "event_callback" or not body.get("event_id"):
        return next()
    event = body.get("event") or {}
    if not slack_event_claim(
        event_id=str(body["event_id"]),
        team_id=str(body.get("team_id") or ""),
        event_type=str(event.get("type") or ""),
    ):
        logger.info("slack event %s delivered again; taken already", body["event_id"])
        return BoltResponse(status=200, body="")
    return next()


def _interactive(body: dict) -> bool:
    """Whether the request is one a person waits on (a command, a click, a modal)."""
    return bool(body.get("command")) or body.get("type") in (
        "block_actions",
        "view_submission",
        "shortcut",
        "message_action",
    )


def _error(error: Exception, body: dict) -> BoltResponse:
    """Answer in words what would be Bolt's bare 500 (Slack shows "http_service_error")."""
    logger.error("slack request failed", exc_info=error)
    if body.get("type") == "view_submission":
        # A modal shows a 200 with a body it does not understand as an error of its own.
        return BoltResponse(status=200, body="")
    if _interactive(body):
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": HUB_ERROR})
    return BoltResponse(status=200, body="")


@cache
def slack_app(signing_secret: str) -> App:
    app = App(
        signing_secret=signing_secret,
        authorize=_authorize,
        process_before_response=True,
        # The hub's own client (hub.integrations.slack) makes every Web API call.
        token_verification_enabled=False,
    )
    app.error(_error)
    app.use(_installation_required)
    app.use(_event_once)
    for module in (calls, deals, leads, home, unfurls):
        module.register(app, installation_key=INSTALLATION)
    return app
