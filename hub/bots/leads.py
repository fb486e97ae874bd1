"""``/lead``: see, assign, qualify, convert and note leads from Slack: the command, the card's
buttons and selects (the "New lead" modal is in ``lead_modals``).

What ``/deal`` and ``/lead`` answer alike (help, show, assign, note, new, a list's View and
pages), their listeners and how they answer (ephemeral unless ``share``; Slack calls in actors,
``hub/workers/slack_leads.py``; the member, the company and the permission checked again on
every request) are in ``record_commands``; this module adds what only leads have.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from slack_bolt import App

from hub.bots import lead_cards as cards
from hub.bots import lead_messages as msg
from hub.bots import lead_modals as modals
from hub.bots.crm_text import Answer, record_id
from hub.bots.deal_cards import deal_card_blocks
from hub.bots.record_cards import note_blocks
from hub.bots.record_commands import MINE, Asker, RecordCommand, Reply, refreshed, share
from hub.domain.authentication.models import User
from hub.domain.crm import deal_selectors as sel
from hub.domain.crm import services
from hub.domain.crm.models import Lead, LeadStatus
from hub.workers.slack_leads import slack_lead_assign, slack_lead_page

# -- the command -------------------------------------------------------------------------------


def _list(asker: Asker, user: User, rest: str) -> Answer:
    rest, public = share(rest)
    mine = bool(MINE.search(rest))
    wanted = " ".join(MINE.sub(" ", rest).split())
    status: str | None = None
    if wanted.lower() == LeadStatus.CONVERTED:
        status = LeadStatus.CONVERTED.value  # listed, never set: lead_status_match leaves it out
    elif wanted:
        match = sel.lead_status_match(text=wanted)
        if match.found is None:
            return Answer(msg.list_unclear(wanted, match.candidates))
        status = match.found
    text, blocks = cards.list_page(
        user=user, company=asker.company, status=status, mine=mine, offset=0
    )
    return Answer(text, blocks, public=public)


def _status_command(asker: Asker, user: User, rest: str) -> Answer:
    raw_id, wanted = LEAD_COMMAND.id_and_rest(rest)
    if not wanted:
        return Answer(msg.USAGE["status"])
    lead_id = record_id(raw_id, "lead")
    if lead_id is not None and wanted.lower().startswith("conver"):
        return Answer(msg.status_converted_refused(lead_id))
    lead = LEAD_COMMAND.changeable(asker, user, lead_id, "status", raw_id)
    if isinstance(lead, Answer):
        return lead
    match = sel.lead_status_match(text=wanted)
    if match.found is None:
        return Answer(msg.status_unknown(wanted, match.candidates))
    return _set_status(lead, match.found, user=user)


def _set_status(lead: Lead, status: str, *, user: User) -> Answer:
    if lead.status == LeadStatus.CONVERTED:
        return Answer(msg.status_after_convert(lead))
    if lead.status == status:
        return cards.LEADS.card_answer(lead, msg.status_same(lead), user=user)
    before = lead.status
    lead = services.lead_set_status(lead=lead, status=status, by=user)
    return cards.LEADS.card_answer(lead, msg.status_set(lead, before), user=user)


def _convert_command(asker: Asker, user: User, rest: str) -> Answer:
    lead = LEAD_COMMAND.changeable(asker, user, record_id(rest, "lead"), "convert", rest)
    return lead if isinstance(lead, Answer) else _convert(asker, lead, user=user)


def _convert(asker: Asker, lead: Lead, *, user: User) -> Answer:
    if lead.status == LeadStatus.CONVERTED:
        return Answer(msg.converted_already(lead))
    # lead_convert puts the deal in the default pipeline's first stage: there must be one.
    pipeline = sel.pipeline_default(company=asker.company)
    if pipeline is None or not pipeline.is_default or not sel.pipeline_stages(pipeline=pipeline):
        return Answer(msg.NO_PIPELINE)
    try:
        deal = services.lead_convert(lead=lead, by=user)
    except ValidationError as exc:
        lead.refresh_from_db()
        if lead.status == LeadStatus.CONVERTED:  # converted meanwhile, by someone else
            return Answer(msg.converted_already(lead))
        return Answer(msg.convert_refused(lead, " ".join(exc.messages)))
    text = msg.converted(lead, deal.pk, deal.stage.name)
    return Answer(text, note_blocks(text, deal_card_blocks(deal)))


# -- clicks ------------------------------------------------------------------------------------


def _action_lead_id(action: dict) -> int | None:
    """The lead an action id names (``lead_status:7``); its value is never trusted."""
    raw = str(action.get("action_id") or "").partition(":")[2]
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def status_click(asker: Asker, user: User, lead: Lead, action: dict) -> Reply | None:
    chosen = str((action.get("selected_option") or {}).get("value") or "")
    if chosen not in cards.SETTABLE:  # "converted", or not a status at all (forged)
        return Reply(Answer(msg.FORGED))
    return refreshed(_set_status(lead, chosen, user=user))


def convert_click(asker: Asker, user: User, lead: Lead, action: dict) -> Reply | None:
    return refreshed(_convert(asker, lead, user=user))


def _page_send(asker: Asker, page: dict[str, Any]) -> None:
    """Another page of the list, in place of the page clicked."""
    slack_lead_page.send(
        installation_id=asker.installation.pk,
        slack_user_id=asker.slack_user_id,
        response_url=asker.response_url,
        public=asker.in_channel,
        **page,
    )


LEAD_COMMAND = RecordCommand(
    records=cards.LEADS,
    commands={"list": _list, "status": _status_command, "convert": _convert_command},
    changes={cards.STATUS_ACTION: status_click, cards.CONVERT_ACTION: convert_click},
    actions=cards.ACTIONS,
    action_record_id=_action_lead_id,
    page_read=cards.page_read,
    page_send=_page_send,
    assign_actor=slack_lead_assign,
    new_form_open=modals.new_form_open,
    register_forms=modals.register,
    bare_id_shows=True,
    links_in_text=True,
    me=("me", "myself", "@me"),
    nobody=("nobody", "none", "no one", "noone", "unassign", "unassigned"),
)


def register(app: App, *, installation_key: str) -> None:
    LEAD_COMMAND.register(app, installation_key=installation_key)
