"""``/deal``: see, move, win, lose, assign and note deals from Slack: the command and the
card's buttons and selects (the modals are ``deal_modals``'). What ``/deal`` and ``/lead`` answer
alike (help, show, assign, note, new, a list's View and pages), their listeners and how they
answer (ephemeral unless ``share``; Slack calls in actors, ``hub/workers/slack_crm.py``; the
member, the company and the permission checked again on every request) are in
``record_commands``; this module adds what only deals have.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App

from hub.bots import crm_messages as msg
from hub.bots import deal_cards as cards
from hub.bots import deal_modals as modals
from hub.bots.crm_text import Answer, record_id
from hub.bots.record_commands import (
    MINE,
    Asker,
    RecordCommand,
    Reply,
    refreshed,
    share,
)
from hub.domain.authentication.models import User
from hub.domain.crm import deal_selectors as sel
from hub.domain.crm import services
from hub.domain.crm.models import Deal, DealStage, DealStatus
from hub.domain.crm.selectors import stage_closing_ids
from hub.workers.slack_crm import slack_deal_assign, slack_deal_page

_CLOSING = re.compile(r"\bclosing(?:\s+this\s+month)?\b", re.IGNORECASE)


# -- the command -------------------------------------------------------------------------------


def _list(asker: Asker, user: User, rest: str) -> Answer:
    rest, public = share(rest)
    closing = bool(_CLOSING.search(rest))
    mine = bool(MINE.search(rest))
    stage_text = " ".join(MINE.sub(" ", _CLOSING.sub(" ", rest)).split())
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
    rest, public = share(rest)
    if rest:
        return Answer(msg.USAGE["pipeline"])
    text, blocks = cards.pipeline_blocks(sel.pipeline_summary(user=user, company=asker.company))
    return Answer(text, blocks, public=public and bool(blocks))


def _move_command(asker: Asker, user: User, rest: str) -> Answer:
    found = DEAL_COMMAND.target(asker, user, rest, "move")
    if isinstance(found, Answer):
        return found
    deal, stage_text = found
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
    if stage.pk in stage_closing_ids(stages):
        return Answer(msg.closing_stage(deal, stage, won=stage.probability == 100))
    before = deal.stage
    deal = services.deal_move(deal=deal, stage=stage, by=user)
    return cards.card_answer(deal, msg.moved(deal, before), user=user, stages=stages)


def _won_command(asker: Asker, user: User, rest: str) -> Answer:
    deal = DEAL_COMMAND.changeable(asker, user, record_id(rest, "deal"), "won", rest)
    return deal if isinstance(deal, Answer) else _won(deal, user=user)


def _won(deal: Deal, *, user: User) -> Answer:
    if deal.status == DealStatus.WON:
        return cards.card_answer(deal, msg.already_won(deal), user=user)
    if deal.status != DealStatus.OPEN:
        return Answer(msg.closed(deal))
    deal = services.deal_mark_won(deal=deal, by=user)
    return cards.card_answer(deal, msg.won(deal), user=user)


def _lost_command(asker: Asker, user: User, rest: str) -> Answer:
    raw_id, reason = DEAL_COMMAND.id_and_rest(rest)
    deal = DEAL_COMMAND.changeable(asker, user, record_id(raw_id, "deal"), "lost", raw_id)
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


# -- clicks ------------------------------------------------------------------------------------


def move_click(asker: Asker, user: User, deal: Deal, action: dict) -> Reply | None:
    stages = sel.pipeline_stages(pipeline=deal.pipeline)
    chosen = str((action.get("selected_option") or {}).get("value") or "")
    stage = next((s for s in stages if str(s.pk) == chosen), None)
    if stage is None:  # not a stage of the deal's pipeline (forged), or one made inactive
        return Reply(Answer(msg.WORDS.forged))
    return refreshed(_move(deal, stage, user=user, stages=stages))


def won_click(asker: Asker, user: User, deal: Deal, action: dict) -> Reply | None:
    return refreshed(_won(deal, user=user))


def lost_click(asker: Asker, user: User, deal: Deal, action: dict) -> Reply | None:
    refusal = modals.lost_refusal(deal, user=user)
    if refusal is not None:
        return refreshed(refusal)
    failed = _lost_form(asker, deal, replace=True)
    return Reply(Answer(failed)) if failed else None


def _page_send(asker: Asker, page: dict[str, Any]) -> None:
    """Another page of the list: in place of the page clicked, or, below a list shared in the
    channel, to the member only (what they may see is theirs)."""
    slack_deal_page.send(
        installation_id=asker.installation.pk,
        slack_user_id=asker.slack_user_id,
        response_url=asker.response_url,
        replace=not asker.in_channel,
        **page,
    )


DEAL_COMMAND = RecordCommand(
    records=cards.DEALS,
    commands={
        "list": _list,
        "move": _move_command,
        "won": _won_command,
        "lost": _lost_command,
        "pipeline": _pipeline,
    },
    changes={
        cards.MOVE_ACTION: move_click,
        cards.WON_ACTION: won_click,
        cards.LOST_ACTION: lost_click,
    },
    actions=cards.ACTIONS,
    action_record_id=cards.action_deal_id,
    page_read=cards.page_read,
    page_send=_page_send,
    assign_actor=slack_deal_assign,
    new_form_open=modals.new_form_open,
    register_forms=modals.register,
    forms=frozenset({"new", "lost"}),
    bare_id_shows=True,
    links_in_text=True,
    me=("me", "myself", "@me"),
    nobody=("nobody", "none", "no one", "noone", "unassign", "unassigned"),
)


def register(app: App, *, installation_key: str) -> None:
    DEAL_COMMAND.register(app, installation_key=installation_key)
