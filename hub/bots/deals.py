"""``/deal``: see, move, win, lose, assign and note deals from Slack: the command and the
card's buttons and selects (the modals are ``deal_modals``'). Answers are ephemeral unless the
member adds ``share``. A listener reads and writes the database only; what needs Slack (a mention
to resolve, another page, a card refreshed after a click) is answered by an actor
(``hub/workers/slack_crm.py``) through the ``response_url``, except ``views.open``, which must
use the click's ``trigger_id`` within Slack's 3 s. Every request checks again who the member is,
reads through their view of the company's deals (another company's deal is "not found") and
checks the permission before a change.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from slack_bolt import Ack, App, BoltContext

from hub.bots import crm_messages as msg
from hub.bots import deal_cards as cards
from hub.bots import deal_modals as modals
from hub.bots.crm_text import Answer, mention_user_id, record_id, split_command
from hub.domain.authentication.models import User
from hub.domain.crm import deal_selectors as sel
from hub.domain.crm import services
from hub.domain.crm.access import CrmAccessDenied, crm_can_manage, crm_manage_check
from hub.domain.crm.models import Deal, DealStage, DealStatus
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import SlackLinkError, slack_user_resolve
from hub.workers.slack_crm import respond_soon, slack_deal_assign, slack_deal_page

logger = logging.getLogger(__name__)

#: A click or a modal may make two Slack calls before it is answered (users.info, views.open).
CLICK_SLACK_TIMEOUT_SECONDS = 1.0
_ID_AND_REST = re.compile(r"(\S*)\s*(.*)", re.DOTALL)
_SHARE = re.compile(r"(?:^|\s+)share$", re.IGNORECASE)
_CLOSING = re.compile(r"\bclosing(?:\s+this\s+month)?\b", re.IGNORECASE)
_MINE = re.compile(r"\b(?:mine|my)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Asker:
    """Who asked, in which workspace, and where to answer them."""

    installation: SlackInstallation
    slack_user_id: str
    response_url: str = ""
    trigger_id: str = ""
    in_channel: bool = False  # the clicked message is in the channel, not ephemeral

    @property
    def company(self):
        return self.installation.company

    def member(self, timeout: float = CLICK_SLACK_TIMEOUT_SECONDS) -> User:
        return slack_user_resolve(
            installation=self.installation, slack_user_id=self.slack_user_id, timeout=timeout
        )


@dataclass
class Reply:
    """A click's answer: a refreshed message in place of the clicked one, or a new one."""

    answer: Answer
    replace: bool = False


def _clean(text: str) -> str:
    """The command's text as typed: Slack escapes ``&``, ``<`` and ``>``; NULs are dropped."""
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return "".join(ch for ch in text if ch >= " " or ch in "\n\t").strip()


def _share(rest: str) -> tuple[str, bool]:
    stripped = _SHARE.sub("", rest)
    return stripped.strip(), stripped != rest


def _id_and_rest(rest: str) -> tuple[str, str]:
    match = _ID_AND_REST.match(rest.strip())
    return (match.group(1), match.group(2).strip()) if match else ("", "")


def _changeable(asker: Asker, user: User, deal_id: int | None, sub: str, raw: str) -> Deal | Answer:
    """The deal the member may change, or the answer saying why not."""
    if deal_id is None:
        return Answer(msg.not_a_deal_id(raw, sub))
    try:
        crm_manage_check(user=user, company=asker.company)
    except CrmAccessDenied as exc:
        return Answer(str(exc))
    deal = sel.deal_get(user=user, company=asker.company, deal_id=deal_id)
    if deal is None:
        return Answer(msg.not_found(deal_id, asker.company.company_name))
    return deal


# -- the command -------------------------------------------------------------------------------


def deal_answer(*, asker: Asker, text: str) -> Answer:
    """Answer ``/deal <text>``."""
    sub, rest = split_command(_clean(text))
    if sub in ("", "help", "?"):
        topic = msg.ALIASES.get(rest.lower(), rest.lower())
        return Answer(msg.USAGE.get(topic, msg.HELP))
    sub = msg.ALIASES.get(sub, sub)
    if sub not in COMMANDS:
        close = difflib.get_close_matches(sub, list(COMMANDS), n=1, cutoff=0.6)
        return Answer(msg.unknown(sub, close[0] if close else None))
    if rest.lower() == "help":
        return Answer(msg.USAGE[sub])
    try:
        # Opening a form is one more Slack call before Slack's 3 s are up.
        user = asker.member(timeout=1.0 if sub in ("new", "lost") else 2.0)
    except SlackLinkError as exc:
        return Answer(str(exc))
    return COMMANDS[sub](asker, user, rest)


def _show(asker: Asker, user: User, rest: str) -> Answer:
    rest, public = _share(rest)
    deal_id = record_id(rest, "deal")
    if deal_id is None:
        return Answer(msg.not_a_deal_id(rest, "show"))
    answer = _shown(asker, user, deal_id)
    answer.public = public and bool(answer.blocks)
    return answer


def _shown(asker: Asker, user: User, deal_id: int) -> Answer:
    deal = sel.deal_get(user=user, company=asker.company, deal_id=deal_id)
    if deal is None:
        return Answer(msg.not_found(deal_id, asker.company.company_name))
    can = crm_can_manage(user=user, company=asker.company)
    return Answer(cards.deal_line(deal), cards.deal_card_blocks(deal, actions=can))


def _list(asker: Asker, user: User, rest: str) -> Answer:
    rest, public = _share(rest)
    closing = bool(_CLOSING.search(rest))
    mine = bool(_MINE.search(rest))
    stage_text = " ".join(_MINE.sub(" ", _CLOSING.sub(" ", rest)).split())
    stage: DealStage | Answer | None = None
    if stage_text:
        pipeline = sel.pipeline_default(company=asker.company)
        stages = sel.pipeline_stages(pipeline=pipeline) if pipeline else []
        stage = _stage(stages, stage_text, pipeline.name if pipeline else "")
    if isinstance(stage, Answer):
        return stage
    text, blocks = cards.list_page(
        user=user, company=asker.company, stage=stage, mine=mine, closing=closing, offset=0
    )
    return Answer(text, blocks, public=public)


def _pipeline(asker: Asker, user: User, rest: str) -> Answer:
    rest, public = _share(rest)
    if rest:
        return Answer(msg.USAGE["pipeline"])
    text, blocks = cards.pipeline_blocks(sel.pipeline_summary(user=user, company=asker.company))
    return Answer(text, blocks, public=public and bool(blocks))


def _move_command(asker: Asker, user: User, rest: str) -> Answer:
    raw_id, stage_text = _id_and_rest(rest)
    if not stage_text:
        return Answer(msg.USAGE["move"])
    deal = _changeable(asker, user, record_id(raw_id, "deal"), "move", raw_id)
    if isinstance(deal, Answer):
        return deal
    if deal.status != DealStatus.OPEN:
        return Answer(msg.closed(deal))
    stages = sel.pipeline_stages(pipeline=deal.pipeline)
    stage = _stage(stages, stage_text, deal.pipeline.name)
    return stage if isinstance(stage, Answer) else _move(deal, stage, user=user, stages=stages)


def _stage(stages: list[DealStage], text: str, pipeline_name: str) -> DealStage | Answer:
    """The stage typed (forgiving spelling), or the answer offering the candidates."""
    match = sel.stage_match(stages=stages, text=text)
    if match.found is not None:
        return match.found
    return Answer(msg.stage_unmatched(text, match.candidates, pipeline_name, stages))


def _move(deal: Deal, stage: DealStage, *, user: User, stages: list[DealStage]) -> Answer:
    if deal.status != DealStatus.OPEN:
        return Answer(msg.closed(deal))
    if stage.pk == deal.stage_id:
        return cards.card_answer(deal, msg.same_stage(deal), user=user, stages=stages)
    if stage.pk in cards.closing_stage_ids(stages):
        return Answer(msg.closing_stage(deal, stage, won=stage.probability == 100))
    before = deal.stage
    deal = services.deal_move(deal=deal, stage=stage, by=user)
    return cards.card_answer(deal, msg.moved(deal, before), user=user, stages=stages)


def _won_command(asker: Asker, user: User, rest: str) -> Answer:
    deal = _changeable(asker, user, record_id(rest, "deal"), "won", rest)
    return deal if isinstance(deal, Answer) else _won(deal, user=user)


def _won(deal: Deal, *, user: User) -> Answer:
    if deal.status == DealStatus.WON:
        return cards.card_answer(deal, msg.already_won(deal), user=user)
    if deal.status != DealStatus.OPEN:
        return Answer(msg.closed(deal))
    deal = services.deal_mark_won(deal=deal, by=user)
    return cards.card_answer(deal, msg.won(deal), user=user)


def _lost_command(asker: Asker, user: User, rest: str) -> Answer:
    raw_id, reason = _id_and_rest(rest)
    deal = _changeable(asker, user, record_id(raw_id, "deal"), "lost", raw_id)
    if isinstance(deal, Answer):
        return deal
    refusal = modals.lost_refusal(deal, user=user)
    if refusal is not None:
        return refusal
    if not reason:
        # Without a reason, the form asks for one; the deal's card is answered there.
        failed = _lost_form(asker, deal, replace=False)
        return Answer(f"{failed}\n{msg.USAGE['lost']}" if failed else "")
    if len(reason) > msg.LOST_REASON_MAX:
        return Answer(msg.lost_reason_too_long(len(reason)))
    return modals.lose(deal, reason, user=user)


def _lost_form(asker: Asker, deal: Deal, *, replace: bool) -> str | None:
    """Open the form asking why the deal was lost; None if it opened, else why not."""
    return modals.lost_form_open(
        installation=asker.installation,
        deal=deal,
        trigger_id=asker.trigger_id,
        response_url=asker.response_url,
        replace=replace,
        public=asker.in_channel and replace,
    )


def _assign_command(asker: Asker, user: User, rest: str) -> Answer:
    raw_id, whom = _id_and_rest(rest)
    if not whom:
        return Answer(msg.USAGE["assign"])
    deal = _changeable(asker, user, record_id(raw_id, "deal"), "assign", raw_id)
    if isinstance(deal, Answer):
        return deal
    slack_user_id = mention_user_id(whom)
    if slack_user_id is not None:
        # Who a Slack user is may take a users.info call: an actor answers.
        return _enqueue(
            lambda: slack_deal_assign.send(
                installation_id=asker.installation.pk,
                user_id=user.pk,
                deal_id=deal.pk,
                assignee_slack_user_id=slack_user_id,
                response_url=asker.response_url,
            ),
            Answer(msg.assigning(deal, slack_user_id)),
        )
    if whom.lower() in ("me", "myself"):
        return _assign(deal, user, user=user)
    match = sel.member_match(company=asker.company, text=whom)
    if match.found is None:
        name = asker.company.company_name
        return Answer(msg.assignee_unmatched(whom, match.candidates, name))
    return _assign(deal, match.found, user=user)


def _assign(deal: Deal, assignee: User, *, user: User) -> Answer:
    if deal.assigned_to_id == assignee.pk:
        return cards.card_answer(deal, msg.already_assigned(deal), user=user)
    deal = services.deal_assign(deal=deal, assignee=assignee, by=user)
    return cards.card_answer(deal, msg.assigned(deal), user=user)


def _note_command(asker: Asker, user: User, rest: str) -> Answer:
    raw_id, text = _id_and_rest(rest)
    if not text:
        return Answer(msg.USAGE["note"])
    deal = _changeable(asker, user, record_id(raw_id, "deal"), "note", raw_id)
    if isinstance(deal, Answer):
        return deal
    try:
        services.deal_add_note(deal=deal, by=user, text=text)
    except ValidationError as exc:
        return Answer(msg.note_refused(" ".join(exc.messages)))
    return Answer(msg.note_added(deal))


def _new_command(asker: Asker, user: User, rest: str) -> Answer:
    refusal = modals.new_form_open(
        installation=asker.installation,
        user=user,
        slack_user_id=asker.slack_user_id,
        trigger_id=asker.trigger_id,
        response_url=asker.response_url,
    )
    return Answer(refusal or "")


COMMANDS: dict[str, Callable[[Asker, User, str], Answer]] = {
    "list": _list,
    "show": _show,
    "move": _move_command,
    "won": _won_command,
    "lost": _lost_command,
    "assign": _assign_command,
    "note": _note_command,
    "new": _new_command,
    "pipeline": _pipeline,
}


def _enqueue(send: Callable[[], Any], answer: Answer) -> Answer:
    try:
        send()
    except Exception:
        logger.exception("slack /deal: could not enqueue a job")
        return Answer(msg.QUEUE_DOWN)
    return answer


def _enqueued(send: Callable[[], Any]) -> Reply | None:
    """A click answered by an actor: nothing to say now, unless the queue is down."""
    queued = _enqueue(send, Answer(""))
    return Reply(queued) if queued.text else None


# -- clicks ------------------------------------------------------------------------------------


def _on_deal(change: Callable[[Asker, User, Deal, dict], Reply | None]):
    """A click that changes the deal its action id names, if the member may change it."""

    def answer(asker: Asker, action: dict) -> Reply | None:
        try:
            user = asker.member()
        except SlackLinkError as exc:
            return Reply(Answer(str(exc)))
        deal_id = cards.action_deal_id(action)
        deal = _changeable(asker, user, deal_id, "show", "") if deal_id else Answer(msg.FORGED)
        return Reply(deal) if isinstance(deal, Answer) else change(asker, user, deal, action)

    return answer


def _refreshed(answer: Answer) -> Reply:
    """A card replaces the card clicked; a sentence alone (a refusal) comes below it."""
    return Reply(answer, replace=bool(answer.blocks))


def move_click(asker: Asker, user: User, deal: Deal, action: dict) -> Reply | None:
    stages = sel.pipeline_stages(pipeline=deal.pipeline)
    chosen = str((action.get("selected_option") or {}).get("value") or "")
    stage = next((s for s in stages if str(s.pk) == chosen), None)
    if stage is None:  # not a stage of the deal's pipeline (forged), or one made inactive
        return Reply(Answer(msg.FORGED))
    return _refreshed(_move(deal, stage, user=user, stages=stages))


def won_click(asker: Asker, user: User, deal: Deal, action: dict) -> Reply | None:
    return _refreshed(_won(deal, user=user))


def lost_click(asker: Asker, user: User, deal: Deal, action: dict) -> Reply | None:
    refusal = modals.lost_refusal(deal, user=user)
    if refusal is not None:
        return _refreshed(refusal)
    failed = _lost_form(asker, deal, replace=True)
    return Reply(Answer(failed)) if failed else None


def assign_click(asker: Asker, user: User, deal: Deal, action: dict) -> Reply | None:
    slack_user_id = str(action.get("selected_user") or "")
    if not slack_user_id:
        return Reply(Answer(msg.FORGED))
    # Who a Slack user is may take a users.info call: the actor refreshes the card.
    return _enqueued(
        lambda: slack_deal_assign.send(
            installation_id=asker.installation.pk,
            user_id=user.pk,
            deal_id=deal.pk,
            assignee_slack_user_id=slack_user_id,
            response_url=asker.response_url,
            replace_original=True,
            public=asker.in_channel,
        )
    )


def show_click(asker: Asker, action: dict) -> Reply | None:
    """A list's View button: the deal's card, below the list."""
    try:
        user = asker.member()
    except SlackLinkError as exc:
        return Reply(Answer(str(exc)))
    deal_id = cards.action_deal_id(action)
    return Reply(_shown(asker, user, deal_id) if deal_id else Answer(msg.FORGED))


def page_click(asker: Asker, action: dict) -> Reply | None:
    """Previous or Next 10: an actor answers in place of the page clicked, or, below a list
    shared in the channel, to the member only (what they may see is theirs)."""
    page = cards.page_read(str(action.get("value") or ""))
    if page is None:
        return Reply(Answer(msg.FORGED))
    return _enqueued(
        lambda: slack_deal_page.send(
            installation_id=asker.installation.pk,
            slack_user_id=asker.slack_user_id,
            response_url=asker.response_url,
            replace=not asker.in_channel,
            **page,
        )
    )


def _click_asker(body: dict, installation: SlackInstallation) -> Asker:
    container = body.get("container") or {}
    return Asker(
        installation=installation,
        slack_user_id=str((body.get("user") or {}).get("id") or ""),
        response_url=str(body.get("response_url") or ""),
        trigger_id=str(body.get("trigger_id") or ""),
        in_channel=container.get("is_ephemeral") is False,
    )


CLICKS: dict[str, Callable[[Asker, dict], Reply | None]] = {
    cards.MOVE_ACTION: _on_deal(move_click),
    cards.WON_ACTION: _on_deal(won_click),
    cards.LOST_ACTION: _on_deal(lost_click),
    cards.ASSIGN_ACTION: _on_deal(assign_click),
    cards.SHOW_ACTION: show_click,
    cards.PAGE_ACTION: page_click,
}


# -- the listeners -----------------------------------------------------------------------------


def register(app: App, *, installation_key: str) -> None:
    def deal_command(ack: Ack, command: dict, context: BoltContext) -> None:
        asker = Asker(
            installation=context[installation_key],
            slack_user_id=str(command.get("user_id") or ""),
            response_url=str(command.get("response_url") or ""),
            trigger_id=str(command.get("trigger_id") or ""),
        )
        try:
            answer = deal_answer(asker=asker, text=str(command.get("text") or ""))
        except Exception:
            logger.exception("slack /deal: the command failed")
            answer = Answer(msg.HUB_ERROR)
        if not answer.text:
            ack()  # a form opened: nothing to say
            return
        response_type = "in_channel" if answer.public else "ephemeral"
        ack(text=answer.text, blocks=answer.blocks or None, response_type=response_type)

    def on_click(answer: Callable[[Asker, dict], Reply | None]):
        def listener(ack: Ack, body: dict, action: dict, context: BoltContext) -> None:
            ack()
            asker = _click_asker(body, context[installation_key])
            try:
                reply = answer(asker, action)
            except Exception:
                logger.exception("slack /deal: a click failed")
                reply = Reply(Answer(msg.HUB_ERROR))
            if reply is not None and asker.response_url:
                respond_soon(
                    response_url=asker.response_url,
                    text=reply.answer.text,
                    blocks=reply.answer.blocks,
                    replace_original=reply.replace,
                    public=reply.replace and asker.in_channel,
                )

        return listener

    app.command("/deal")(deal_command)
    for prefix, answer in CLICKS.items():
        app.action(re.compile(rf"^{prefix}:"))(on_click(answer))
    app.action(re.compile(rf"^{cards.OPEN_ACTION}:"))(_link_clicked)
    modals.register(app, installation_key=installation_key)


def _link_clicked(ack: Ack) -> None:
    ack()  # the browser opens the link; Slack still tells the app
