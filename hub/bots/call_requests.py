"""What a worker makes of a ``/call``: claim it, place the call, and word what came of it."""

from __future__ import annotations

from hub.bots import messages
from hub.domain.authentication.models import User
from hub.domain.calls.outbound import CallPlacementError, CallRequestExpired, call_request_place
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import (
    slack_call_request_claim,
    slack_call_request_done,
    slack_installation_is_on,
)


def call_request_answer(
    *,
    installation: SlackInstallation,
    user_id: int,
    to_number: str,
    target_kind: str | None,
    target_id: int | None,
    request_id: str,
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
