"""What a worker makes of a ``/call``: claim it, place the call, and word what came of it."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from hub.bots import messages
from hub.domain.authentication.models import User
from hub.domain.calls.outbound import CallPlacementError, CallRequestExpired, call_request_place
from hub.integrations.slack.client import SlackError, message_post
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import (
    SlackLinkError,
    slack_bot_token,
    slack_call_request_claim,
    slack_call_request_done,
    slack_command_reply,
    slack_installation_is_on,
)

logger = logging.getLogger(__name__)

#: How long a worker may take to place one call (the actor's time limit): a claim younger than
#: this with no outcome yet may be a first click's job still at work.
PLACE_TIME_LIMIT_SECONDS = 60


def call_request_answer(
    *,
    installation: SlackInstallation,
    user_id: int,
    to_number: str,
    target_kind: str | None,
    target_id: int | None,
    request_id: str,
    waited: int,
    clicked: bool = False,
) -> str:
    """Claim the request, then place the call unless its workspace is off or it is too late.

    The claim comes first and is committed at once: a job delivered again (the broker gives a
    dead worker's job again, late) or a second click of the same button finds it, places
    nothing and is told what came of the first, whatever that was.

    A claim with no outcome yet is read by who asks: a command's request id is fresh, so only
    the broker giving its job again (its worker died) finds it, and the call may have been
    placed; a button's is the same for every click, so a second click finds the first click's
    job still at work unless the claim is older than a job may run.
    """
    user = User.objects.get(pk=user_id)
    request, claimed = slack_call_request_claim(
        request_id=request_id, installation=installation, user=user, to_number=to_number
    )
    if not claimed:
        running = timezone.now() - request.claimed_at < timedelta(seconds=PLACE_TIME_LIMIT_SECONDS)
        return messages.already(
            to_number=to_number,
            outcome=request.outcome,
            in_progress=clicked and not request.outcome and running,
        )
    call_id, text = _place(installation, user, to_number, target_kind, target_id, waited=waited)
    slack_call_request_done(request=request, call_id=call_id, outcome=text)
    return text


def _place(
    installation: SlackInstallation,
    user: User,
    to_number: str,
    target_kind: str | None,
    target_id: int | None,
    *,
    waited: int,
) -> tuple[int | None, str]:
    """Return the call placed (or None) and what to tell the person."""
    if not slack_installation_is_on(installation):
        return None, messages.workspace_off(to_number=to_number, team_id=installation.team_id)
    try:
        call = call_request_place(
            user=user,
            company=installation.company,
            to_number=to_number,
            target_kind=target_kind,
            target_id=target_id,
            waited=waited,
        )
    except CallRequestExpired as exc:
        return None, messages.too_late(to_number=to_number, seconds=exc.waited)
    except CallPlacementError as exc:
        return (exc.call.pk if exc.call is not None else None), str(exc)
    text = messages.placed(
        call_id=call.pk,
        to_number=call.to_number,
        from_number=call.from_number,
        user_phone=user.phone,
    )
    return call.pk, text


def call_reply(
    *,
    installation: SlackInstallation | None,
    slack_user_id: str,
    channel_id: str,
    response_url: str,
    text: str,
) -> None:
    """Tell the person what came of their ``/call`` or click: where they asked, or, for a click
    in App Home (no message, no channel), in the app's DM with them."""
    if response_url or channel_id:
        slack_command_reply(
            installation=installation,
            slack_user_id=slack_user_id,
            channel_id=channel_id,
            response_url=response_url,
            text=text,
        )
        return
    if installation is None:
        return
    try:
        # A user id as the channel posts to the app's Messages tab with that user.
        message_post(token=slack_bot_token(installation), channel=slack_user_id, text=text)
    except (SlackError, SlackLinkError) as exc:
        logger.error("slack /call: could not tell %s: %s (%s)", slack_user_id, text, exc)
