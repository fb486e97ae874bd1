"""``/call``: click-to-call from Slack, by phone number or by the name of a lead, customer or deal;
``/call list [today|missed]`` lists the member's calls.

The command is answered at once (Slack waits 3 s) with what is about to happen, or why not;
the call itself is placed by the ``slack_call_place`` actor (``hub/workers/slack.py``), which
reports back through the command's ``response_url``. Several matches for a name are offered as
buttons (``call_pick``), and so is a lone match that does not name its target in full (a
confirm button); a listed or carded call's Call back button is one too (``call_pick:call:<id>``).
The words ``list`` and ``help`` are sub-commands before they are names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from slack_bolt import Ack, App, BoltContext

from hub.bots import messages
from hub.bots.call_cards import (
    PICK_ACTION,
    call_back_button,
    call_line,
    call_missed,
    call_other_number,
)
from hub.bots.crm_text import split_command
from hub.domain.authentication.models import User
from hub.domain.calls.models import Call, PhoneNumber
from hub.domain.calls.outbound import (
    CallPlacementError,
    phone_number_default,
    phone_number_region,
)
from hub.domain.calls.selectors import call_get, calls_for_member, company_today
from hub.domain.calls.services import phone_normalize
from hub.domain.crm.selectors import (
    CallTarget,
    CallTargetMatches,
    call_target_get,
    call_target_search,
)
from hub.integrations.slack.client import SlackError, response_post
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import SlackLinkError, slack_user_resolve
from hub.workers.slack import slack_call_notice, slack_call_place

logger = logging.getLogger(__name__)

_PICK = re.compile(rf"^{PICK_ACTION}:")
_OPEN = re.compile(r"^call_open:")
_NUMBERISH = re.compile(r"[+()\d\s.\-/]+")
CHOICES_SHOWN = 6
#: ``/call list`` shows at most this many calls; missed ones are those of the last few days.
LIST_SHOWN = 20
MISSED_DAYS = 7
#: No name or title is this long: a longer query is answered "no match" without a search.
QUERY_MAX = 200
#: A click makes at most two Slack calls before Slack hears its ack (users.info, the reply).
PICK_SLACK_TIMEOUT_SECONDS = 1.0


@dataclass
class Answer:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Caller:
    """Who asked, in which workspace, and where to answer them.

    ``request_id`` names the call asked for: fresh for each command, the same for every click
    of one button, so a button clicked twice finds its first click's claim and rings no one twice.
    """

    installation: SlackInstallation
    slack_user_id: str
    channel_id: str
    response_url: str
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    clicked: bool = False  # a button, clicked perhaps twice (see call_request_answer)


def pick_request_id(body: dict, value: str) -> str:
    """Return the same id for every click of one button of one message by one person.

    A button of App Home has no message: the view as it was published (its hash) stands for it.
    """
    container = body.get("container") or {}
    message_ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    if not message_ts and container.get("type") == "view":
        view_hash = (body.get("view") or {}).get("hash")
        message_ts = f"{container.get('view_id', '')}:{view_hash}" if view_hash else None
    if not message_ts:
        # Nothing names the message: each click is its own request (none seen from Slack).
        return uuid.uuid4().hex
    team_id = (body.get("team") or {}).get("id", "")
    user_id = (body.get("user") or {}).get("id", "")
    key = "\n".join((team_id, str(message_ts), user_id, value))
    return hashlib.sha256(key.encode()).hexdigest()


def register(app: App, *, installation_key: str) -> None:
    def call_command(ack: Ack, command: dict, context: BoltContext) -> None:
        caller = Caller(
            installation=context[installation_key],
            slack_user_id=command.get("user_id", ""),
            channel_id=command.get("channel_id", ""),
            response_url=command.get("response_url", ""),
        )
        try:
            answer = call_answer(caller=caller, text=command.get("text") or "")
        except Exception:
            logger.exception("slack /call: the command failed")
            answer = Answer(messages.HUB_ERROR)
        ack(text=answer.text, blocks=answer.blocks or None, response_type="ephemeral")

    def call_pick(ack: Ack, body: dict, action: dict, context: BoltContext) -> None:
        # Slack hears this ack only when the listener returns (process_before_response), so
        # every Slack call made here is capped to keep the whole answer well inside its 3 s.
        ack()
        value = str(action.get("value") or "")
        caller = Caller(
            installation=context[installation_key],
            slack_user_id=(body.get("user") or {}).get("id", ""),
            channel_id=(body.get("channel") or {}).get("id", ""),
            response_url=body.get("response_url", ""),
            request_id=pick_request_id(body, value),
            clicked=True,
        )
        try:
            answer = pick_answer(caller=caller, value=value)
        except Exception:
            # The click was acknowledged already: the person hears of it only through Slack.
            logger.exception("slack call_pick: the click failed")
            answer = Answer(messages.HUB_ERROR)
        # /call's own choices are replaced by the answer (no second click on them); a call
        # button on a deal, lead or call card answers below the card, which stays.
        _tell(caller, answer, replace=action.get("block_id") == "call_choices")

    def call_open(ack: Ack) -> None:
        ack()  # a link button (Open in console): Slack opens the link; nothing to do here

    app.command("/call")(call_command)
    app.action(_PICK)(call_pick)
    app.action(_OPEN)(call_open)


def _tell(caller: Caller, answer: Answer, *, replace: bool = True) -> None:
    """Answer a click in place; a click in App Home (no message to answer in) by DM."""
    if not caller.response_url:
        try:
            slack_call_notice.send(
                installation_id=caller.installation.pk,
                slack_user_id=caller.slack_user_id,
                text=answer.text,
            )
        except Exception:
            logger.exception(
                "slack call_pick: could not queue the answer to %s", caller.slack_user_id
            )
        return
    try:
        response_post(
            response_url=caller.response_url,
            text=answer.text,
            replace_original=replace,
            timeout=PICK_SLACK_TIMEOUT_SECONDS,
        )
    except SlackError as exc:
        logger.warning("slack call_pick: could not answer %s: %s", caller.slack_user_id, exc)


def typed_text(text: str) -> str:
    """The member's text on one line, without control characters: a NUL never reaches the
    database."""
    spaced = "".join(" " if ch in "\t\n\r\v\f" else ch for ch in text)
    return "".join(ch for ch in spaced if unicodedata.category(ch) != "Cc").strip()


def call_answer(*, caller: Caller, text: str) -> Answer:
    """Answer ``/call <text>``: start the call, offer choices, list calls, or say why not."""
    text = typed_text(text)
    if not text:
        return Answer(f"{messages.CALL_USAGE} {messages.CALL_MORE}")
    word, rest = split_command(text)
    if word == "help":
        return Answer(messages.call_help(MISSED_DAYS))
    try:
        user = slack_user_resolve(
            installation=caller.installation, slack_user_id=caller.slack_user_id
        )
        if word == "list":
            return _list(caller=caller, user=user, rest=rest)
        number = phone_number_default(user=user, company=caller.installation.company)
    except (SlackLinkError, CallPlacementError) as exc:
        return Answer(str(exc))
    if _NUMBERISH.fullmatch(text) and sum(c.isdigit() for c in text) >= 3:
        try:
            to_number = phone_normalize(text, region=phone_number_region(number))
        except ValidationError:
            return Answer(messages.not_a_number(text))
        return _start(caller=caller, user_id=user.pk, number=number, to_number=to_number)
    if len(text) > QUERY_MAX:
        return Answer(messages.no_match(text, caller.installation.company.company_name))
    found = call_target_search(company=caller.installation.company, query=text, limit=CHOICES_SHOWN)
    if not found.targets:
        return Answer(messages.no_match(text, caller.installation.company.company_name))
    if len(found.targets) == 1 and not found.more:
        [target] = found.targets
        if target.exact or not target.phone:
            return _start_target(caller=caller, user_id=user.pk, number=number, target=target)
        # A loose match ("al" for Alan) may not be who was meant: ask before ringing anyone.
        return _confirm(text, target)
    return _choices(text, found)


def pick_answer(*, caller: Caller, value: str) -> Answer:
    """Answer a click on one of the choices: the same checks again, then start the call."""
    kind, _, raw_id = value.partition(":")
    try:
        user = slack_user_resolve(
            installation=caller.installation,
            slack_user_id=caller.slack_user_id,
            timeout=PICK_SLACK_TIMEOUT_SECONDS,
        )
        number = phone_number_default(user=user, company=caller.installation.company)
    except (SlackLinkError, CallPlacementError) as exc:
        return Answer(str(exc))
    record_id = _record_id(raw_id)
    company = caller.installation.company
    if kind == "call":
        call = call_get(company=company, call_id=record_id) if record_id is not None else None
        if call is None:
            return Answer(messages.CALL_GONE)
        return _call_back(caller=caller, user_id=user.pk, number=number, call=call)
    target = (
        call_target_get(company=company, kind=kind, target_id=record_id)
        if record_id is not None
        else None
    )
    if target is None:
        return Answer("That choice is no longer in the CRM; run /call again.")
    return _start_target(caller=caller, user_id=user.pk, number=number, target=target)


def _record_id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _call_back(*, caller: Caller, user_id: int, number: PhoneNumber, call: Call) -> Answer:
    """Ring the far side of ``call`` again, attached to the lead, customer or deal it was with."""
    other = call_other_number(call)
    try:
        to_number = phone_normalize(other, region=phone_number_region(number))
    except ValidationError:
        return Answer(messages.no_call_back(other))
    target = None
    for kind, target_id in (
        ("lead", call.lead_id),
        ("customer", call.customer_id),
        ("deal", call.deal_id),
    ):
        if target_id is not None:
            found = call_target_get(
                company=caller.installation.company, kind=kind, target_id=target_id
            )
            target = dataclasses.replace(found, phone=to_number) if found else None
            break
    return _start(caller=caller, user_id=user_id, number=number, to_number=to_number, target=target)


def _list(*, caller: Caller, user: User, rest: str) -> Answer:
    """``/call list [today|missed]``: the member's calls, read from the database only."""
    which = rest.lower()
    if which not in ("", "today", "missed"):
        return Answer(messages.list_bad(rest))
    company = caller.installation.company
    today = company_today(company=company)
    missed = which == "missed"
    page = calls_for_member(
        user=user,
        company=company,
        day=None if missed else today,
        since=today - timedelta(days=MISSED_DAYS - 1) if missed else None,
        missed=missed,
        limit=LIST_SHOWN,
    )
    title = messages.list_title(
        missed=missed,
        shown=len(page.calls),
        total=page.total,
        day=f"{today:%a} {today.day} {today:%b}",
        days=MISSED_DAYS,
    )
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": title}}]
    lines = [title]
    for call in page.calls:
        line = call_line(call)
        lines.append(line)
        block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": line}}
        if call_missed(call):
            block["accessory"] = call_back_button(call)
        blocks.append(block)
    return Answer("\n".join(lines), blocks if page.calls else [])


def _start_target(
    *, caller: Caller, user_id: int, number: PhoneNumber, target: CallTarget
) -> Answer:
    if not target.phone:
        return Answer(messages.no_phone(target))
    try:
        to_number = phone_normalize(target.phone, region=phone_number_region(number))
    except ValidationError:
        return Answer(messages.bad_phone(target))
    return _start(caller=caller, user_id=user_id, number=number, to_number=to_number, target=target)


def _start(
    *,
    caller: Caller,
    user_id: int,
    number: PhoneNumber,
    to_number: str,
    target: CallTarget | None = None,
) -> Answer:
    try:
        slack_call_place.send(
            installation_id=caller.installation.pk,
            user_id=user_id,
            slack_user_id=caller.slack_user_id,
            channel_id=caller.channel_id,
            response_url=caller.response_url,
            to_number=to_number,
            target_kind=target.kind if target else None,
            target_id=target.id if target else None,
            requested_at=time.time(),
            request_id=caller.request_id,
            clicked=caller.clicked,
        )
    except Exception:
        logger.exception("slack /call: could not enqueue the call")
        return Answer(messages.queue_down())
    return Answer(
        messages.calling(
            whom=messages.whom(target), to_number=to_number, from_number=number.phone_number
        )
    )


def _button(target: CallTarget, text: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": f"{PICK_ACTION}:{target.kind}:{target.id}",
        "text": {"type": "plain_text", "text": text[:75]},
        "value": f"{target.kind}:{target.id}",
    }


def _choices(query: str, found: CallTargetMatches) -> Answer:
    targets = found.targets
    text = messages.several(query, len(targets), found.more)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {
            "type": "actions",
            "block_id": "call_choices",
            "elements": [_button(target, target.label) for target in targets],
        },
    ]
    lines = "\n".join(f"• {messages.label(target)}" for target in targets)
    return Answer(f"{text}\n{lines}", blocks)


def _confirm(query: str, target: CallTarget) -> Answer:
    text = messages.confirm(query, target)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {
            "type": "actions",
            "block_id": "call_choices",
            "elements": [_button(target, f"Call {target.label}")],
        },
    ]
    return Answer(text, blocks)
