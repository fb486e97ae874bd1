"""The Slack bot's Dramatiq actors: place a call asked for with ``/call`` and report back."""

from __future__ import annotations

import logging
import time
import uuid

import dramatiq
from dramatiq.middleware import TimeLimitExceeded

from hub.bots import messages
from hub.domain.authentication.models import Customer, User
from hub.domain.calls.outbound import CallPlacementError, call_place
from hub.domain.crm.models import Deal, Lead
from hub.integrations.slack.client import SlackError, ephemeral_post, response_post
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import (
    SlackLinkError,
    slack_bot_token,
    slack_call_request_claim,
    slack_call_request_done,
)

logger = logging.getLogger(__name__)

QUEUE = "slack"
#: A call asked for longer ago than this is not placed: the person has moved on.
MAX_WAIT_SECONDS = 120
_TARGETS = {"lead": Lead, "customer": Customer, "deal": Deal}


# Never retried: a retry after Twilio took the call would ring the number twice. A job the
# broker delivers again (its worker died) finds its request_id claimed and places nothing.
@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=60_000)
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
) -> None:
    installation = (
        SlackInstallation.objects.select_related("company").filter(pk=installation_id).first()
    )
    try:
        if installation is None:
            raise SlackInstallation.DoesNotExist(f"installation {installation_id} is gone")
        text = _answer(
            installation,
            user_id,
            to_number,
            target_kind,
            target_id,
            request_id or uuid.uuid4().hex,
            waited=int(time.time() - requested_at),
        )
    except TimeLimitExceeded:
        # A BaseException: told here, then raised again so that Dramatiq records the failure.
        logger.error("slack /call to %s ran out of time", to_number)
        _report(
            installation,
            slack_user_id,
            channel_id,
            response_url,
            messages.failed(to_number=to_number),
        )
        raise
    except Exception:
        # Not retried (see above), so the person must hear of it rather than wait.
        logger.exception("slack /call to %s failed", to_number)
        text = messages.failed(to_number=to_number)
    _report(installation, slack_user_id, channel_id, response_url, text)


def _answer(
    installation: SlackInstallation,
    user_id: int,
    to_number: str,
    target_kind: str | None,
    target_id: int | None,
    request_id: str,
    *,
    waited: int,
) -> str:
    """Claim the request, then place the call unless its workspace is off or it is too late.

    The claim comes first and is committed at once: a job delivered again (the broker gives a
    dead worker's job again, late) or a second click of the same button finds it, places
    nothing and is told what came of the first, whatever that was.
    """
    user = User.objects.get(pk=user_id)
    request, claimed = slack_call_request_claim(
        request_id=request_id, installation=installation, user=user, to_number=to_number
    )
    if not claimed:
        return messages.already(to_number=to_number, outcome=request.outcome)
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
    company = installation.company
    if not (installation.is_active and company.is_active):
        return None, messages.workspace_off(to_number=to_number, team_id=installation.team_id)
    if waited > MAX_WAIT_SECONDS:
        return None, messages.too_late(to_number=to_number, seconds=waited)
    links: dict[str, object] = {}
    if target_kind in _TARGETS and target_id is not None:
        model = _TARGETS[target_kind]
        scope = {"companies__company": company} if model is Customer else {"company": company}
        # Only a row of the installation's company is ever attached to the call.
        links[target_kind] = model._default_manager.filter(pk=target_id, **scope).first()
    try:
        call = call_place(user=user, company=company, to_number=to_number, **links)  # type: ignore[arg-type]
    except CallPlacementError as exc:
        return (exc.call.pk if exc.call is not None else None), str(exc)
    text = messages.placed(
        call_id=call.pk,
        to_number=call.to_number,
        from_number=call.from_number,
        user_phone=user.phone,
    )
    return call.pk, text


def _report(
    installation: SlackInstallation | None,
    slack_user_id: str,
    channel_id: str,
    response_url: str,
    text: str,
) -> None:
    """Tell the person through the command's response_url, else with chat.postEphemeral."""
    try:
        response_post(response_url=response_url, text=text)
        return
    except SlackError as exc:
        logger.warning("slack /call: response_url failed (%s); trying chat.postEphemeral", exc)
        if installation is None:
            return
    try:
        token = slack_bot_token(installation)
        ephemeral_post(token=token, channel=channel_id, user=slack_user_id, text=text)
    except (SlackError, SlackLinkError) as exc:
        logger.error("slack /call: could not tell %s: %s (%s)", slack_user_id, text, exc)
