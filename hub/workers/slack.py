"""The Slack area's Dramatiq actors: place a call asked for with ``/call`` (or a button) and
report back; tell the person about a click that had nowhere to be answered (App Home)."""

from __future__ import annotations

import logging
import time
import uuid

import dramatiq
from dramatiq.middleware import TimeLimitExceeded

from hub.bots import messages
from hub.bots.call_requests import PLACE_TIME_LIMIT_SECONDS, call_reply, call_request_answer
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import slack_installation_get

logger = logging.getLogger(__name__)

QUEUE = "slack"


# Never retried: a retry after Twilio took the call would ring the number twice. A job the
# broker delivers again (its worker died) finds its request_id claimed and places nothing.
@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=PLACE_TIME_LIMIT_SECONDS * 1000)
def slack_call_place(
    *,
    installation_id: int,
    user_id: int,
    slack_user_id: str,
    channel_id: str,
    response_url: str,
    to_number: str,
    target_kind: str | None = None,
    target_id: int | None = None,
    requested_at: float = 0.0,
    request_id: str | None = None,
    clicked: bool = False,
) -> None:
    installation = slack_installation_get(installation_id)

    def reply(text: str) -> None:
        call_reply(
            installation=installation,
            slack_user_id=slack_user_id,
            channel_id=channel_id,
            response_url=response_url,
            text=text,
        )

    try:
        if installation is None:
            raise SlackInstallation.DoesNotExist(f"installation {installation_id} is gone")
        text = call_request_answer(
            installation=installation,
            user_id=user_id,
            to_number=to_number,
            target_kind=target_kind,
            target_id=target_id,
            request_id=request_id or uuid.uuid4().hex,
            waited=int(time.time() - requested_at),
            clicked=clicked,
        )
    except TimeLimitExceeded:
        # A BaseException: told here, then raised again so that Dramatiq records the failure.
        logger.error("slack /call to %s ran out of time", to_number)
        reply(messages.failed(to_number=to_number))
        raise
    except Exception:
        # Not retried (see above), so the person must hear of it rather than wait.
        logger.exception("slack /call to %s failed", to_number)
        text = messages.failed(to_number=to_number)
    reply(text)


# A word to the person about a click in App Home (no response_url to answer it through).
@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=30_000)
def slack_call_notice(*, installation_id: int, slack_user_id: str, text: str) -> None:
    call_reply(
        installation=slack_installation_get(installation_id),
        slack_user_id=slack_user_id,
        channel_id="",
        response_url="",
        text=text,
    )
