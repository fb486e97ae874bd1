"""``/lead``: see, assign, qualify, convert and note leads from Slack: the command, the card's
buttons and selects (the "New lead" modal is in ``lead_modals``).

Answers are ephemeral unless the member adds ``share``. A listener reads and writes the database
only; what needs Slack (a mention to resolve, another page, a card refreshed after a click) is
answered by an actor (``hub/workers/slack_leads.py``) through the ``response_url``, except
``views.open``, which must use the command's ``trigger_id`` within Slack's 3 s. Every request
checks again who the member is, reads through their view of the company's leads (another
company's lead is "not found") and checks the permission before a change.
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

from hub.bots import lead_cards as cards
from hub.bots import lead_messages as msg
from hub.bots import lead_modals as modals
from hub.bots.crm_text import Answer, mention_user_id, record_id, split_command
from hub.bots.deal_cards import deal_card_blocks
from hub.domain.authentication.models import User
from hub.domain.crm import deal_selectors as sel
from hub.domain.crm import services
from hub.domain.crm.access import CrmAccessDenied, crm_can_manage, crm_manage_check
from hub.domain.crm.models import Lead, LeadStatus
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import SlackLinkError, slack_user_resolve
from hub.workers.slack_leads import respond_soon, slack_lead_assign, slack_lead_page

logger = logging.getLogger(__name__)

#: A click or the form may make two Slack calls before it is answered (users.info, views.open).
CLICK_SLACK_TIMEOUT_SECONDS = 1.0
# The first word is the id: a number, or a link (Slack writes it <url|label>, spaces and all).
_ID_AND_REST = re.compile(r"(<[^>]*>|\S*)\s*(.*)", re.DOTALL)
_SHARE = re.compile(r"(?:^|\s+)share$", re.IGNORECASE)
_MINE = re.compile(r"\b(?:mine|my)\b", re.IGNORECASE)
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,31}")
_ME = ("me", "myself", "@me")
_NOBODY = ("nobody", "none", "no one", "noone", "unassign", "unassigned")


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


def _changeable(asker: Asker, user: User, lead_id: int | None, sub: str, raw: str) -> Lead | Answer:
    """The lead the member may change, or the answer saying why not."""
    if lead_id is None:
        return Answer(msg.not_a_lead_id(raw, sub))
    try:
        crm_manage_check(user=user, company=asker.company)
    except CrmAccessDenied as exc:
        return Answer(str(exc))
    lead = sel.lead_get(user=user, company=asker.company, lead_id=lead_id)
    if lead is None:
        return Answer(msg.not_found(lead_id, asker.company.company_name))
    return lead


# -- the command -------------------------------------------------------------------------------


def lead_answer(*, asker: Asker, text: str) -> Answer:
    """Answer ``/lead <text>``."""
    text = _clean(text)
    sub, rest = split_command(text)
    if sub in ("", "help", "?"):
        topic = msg.ALIASES.get(rest.lower(), rest.lower())
        return Answer(msg.USAGE.get(topic, msg.HELP))
    sub = msg.ALIASES.get(sub, sub)
    if sub not in COMMANDS and record_id(_share(text)[0], "lead") is not None:
        sub, rest = "show", text  # `/lead 7`, `/lead <link>`: the card
    if sub not in COMMANDS:
        close = difflib.get_close_matches(sub, list(COMMANDS), n=1, cutoff=0.6)
        return Answer(msg.unknown(sub, close[0] if close else None))
    if rest.lower() == "help":
        return Answer(msg.USAGE[sub])
    try:
        # Opening a form is one more Slack call before Slack's 3 s are up.
        user = asker.member(timeout=1.0 if sub == "new" else 2.0)
    except SlackLinkError as exc:
        return Answer(str(exc))
    return COMMANDS[sub](asker, user, rest)


def _show(asker: Asker, user: User, rest: str) -> Answer:
    rest, public = _share(rest)
    lead_id = record_id(rest, "lead")
    if lead_id is None:
        return Answer(msg.not_a_lead_id(rest, "show"))
    answer = _shown(asker, user, lead_id)
    answer.public = public and bool(answer.blocks)
    return answer


def _shown(asker: Asker, user: User, lead_id: int) -> Answer:
    lead = sel.lead_get(user=user, company=asker.company, lead_id=lead_id)
    if lead is None:
        return Answer(msg.not_found(lead_id, asker.company.company_name))
    can = crm_can_manage(user=user, company=asker.company)
    return Answer(cards.lead_line(lead), cards.lead_card_blocks(lead, actions=can))


def _list(asker: Asker, user: User, rest: str) -> Answer:
    rest, public = _share(rest)
    mine = bool(_MINE.search(rest))
    wanted = " ".join(_MINE.sub(" ", rest).split())
    status: str | None = None
    if wanted.lower() == LeadStatus.CONVERTED:
        status = LeadStatus.CONVERTED.value  # listed, never set: lead_status_match leaves it out
    elif wanted:
        match = sel.lead_status_match(text=wanted)
        if match.found is None:
            return Answer(msg.list_unclear(wanted, match.candidates))
        status = match.found
    page = sel.lead_list(
        user=user, company=asker.company, status=status, mine=mine, limit=cards.PAGE_SIZE
    )
    text, blocks = cards.list_blocks(
        page.leads, total=page.total, offset=0, status=status, mine=mine
    )
    return Answer(text, blocks, public=public)


def _assign_command(asker: Asker, user: User, rest: str) -> Answer:
    raw_id, whom = _id_and_rest(rest)
    if not whom:
        return Answer(msg.USAGE["assign"])
    lead = _changeable(asker, user, record_id(raw_id, "lead"), "assign", raw_id)
    if isinstance(lead, Answer):
        return lead
    slack_user_id = mention_user_id(whom)
    if slack_user_id is not None:
        # Who a Slack user is may take a users.info call: an actor answers.
        return _enqueue(
            lambda: slack_lead_assign.send(
                installation_id=asker.installation.pk,
                user_id=user.pk,
                lead_id=lead.pk,
                assignee_slack_user_id=slack_user_id,
                response_url=asker.response_url,
            ),
            Answer(msg.assigning(lead, slack_user_id)),
        )
    if whom.lower() in _ME:
        return _assign(lead, user, user=user)
    if whom.lower() in _NOBODY:
        return _assign(lead, None, user=user)
    match = sel.member_match(company=asker.company, text=whom)
    if match.found is None:
        if match.candidates:
            return Answer(msg.assignee_ambiguous(whom, match.candidates))
        return Answer(msg.assignee_unknown(whom, asker.company.company_name))
    return _assign(lead, match.found, user=user)


def _assign(lead: Lead, assignee: User | None, *, user: User) -> Answer:
    if lead.assigned_to_id == (assignee.pk if assignee else None):
        return cards.card_answer(lead, msg.already_assigned(lead), user=user)
    lead = services.lead_assign(lead=lead, assignee=assignee, by=user)
    return cards.card_answer(lead, msg.assigned(lead), user=user)


def _status_command(asker: Asker, user: User, rest: str) -> Answer:
    raw_id, wanted = _id_and_rest(rest)
    if not wanted:
        return Answer(msg.USAGE["status"])
    lead_id = record_id(raw_id, "lead")
    if lead_id is not None and wanted.lower().startswith("conver"):
        return Answer(msg.status_converted_refused(lead_id))
    lead = _changeable(asker, user, lead_id, "status", raw_id)
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
        return cards.card_answer(lead, msg.status_same(lead), user=user)
    before = lead.status
    lead = services.lead_set_status(lead=lead, status=status, by=user)
    return cards.card_answer(lead, msg.status_set(lead, before), user=user)


def _convert_command(asker: Asker, user: User, rest: str) -> Answer:
    lead = _changeable(asker, user, record_id(rest, "lead"), "convert", rest)
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
    return Answer(text, cards.note_blocks(text, deal_card_blocks(deal)))


def _note_command(asker: Asker, user: User, rest: str) -> Answer:
    raw_id, text = _id_and_rest(rest)
    if not text:
        return Answer(msg.USAGE["note"])
    lead = _changeable(asker, user, record_id(raw_id, "lead"), "note", raw_id)
    if isinstance(lead, Answer):
        return lead
    try:
        services.lead_add_note(lead=lead, by=user, text=text)
    except ValidationError as exc:
        return Answer(msg.note_refused(" ".join(exc.messages)))
    return Answer(msg.note_added(lead))


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
    "assign": _assign_command,
    "status": _status_command,
    "convert": _convert_command,
    "note": _note_command,
    "new": _new_command,
}


def _enqueue(send: Callable[[], Any], answer: Answer) -> Answer:
    try:
        send()
    except Exception:
        logger.exception("slack /lead: could not enqueue a job")
        return Answer(msg.QUEUE_DOWN)
    return answer


def _enqueued(send: Callable[[], Any]) -> Reply | None:
    """A click answered by an actor: nothing to say now, unless the queue is down."""
    queued = _enqueue(send, Answer(""))
    return Reply(queued) if queued.text else None


# -- clicks ------------------------------------------------------------------------------------


def _action_lead_id(action: dict) -> int | None:
    """The lead an action id names (``lead_status:7``); its value is never trusted."""
    raw = str(action.get("action_id") or "").partition(":")[2]
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _on_lead(change: Callable[[Asker, User, Lead, dict], Reply | None]):
    """A click that changes the lead its action id names, if the member may change it."""

    def answer(asker: Asker, action: dict) -> Reply | None:
        try:
            user = asker.member()
        except SlackLinkError as exc:
            return Reply(Answer(str(exc)))
        lead_id = _action_lead_id(action)
        lead = _changeable(asker, user, lead_id, "show", "") if lead_id else Answer(msg.FORGED)
        return Reply(lead) if isinstance(lead, Answer) else change(asker, user, lead, action)

    return answer


def _refreshed(answer: Answer) -> Reply:
    """A card replaces the card clicked; a sentence alone (a refusal) comes below it."""
    return Reply(answer, replace=bool(answer.blocks))


def status_click(asker: Asker, user: User, lead: Lead, action: dict) -> Reply | None:
    chosen = str((action.get("selected_option") or {}).get("value") or "")
    if chosen not in cards.SETTABLE:  # "converted", or not a status at all (forged)
        return Reply(Answer(msg.FORGED))
    return _refreshed(_set_status(lead, chosen, user=user))


def convert_click(asker: Asker, user: User, lead: Lead, action: dict) -> Reply | None:
    return _refreshed(_convert(asker, lead, user=user))


def assign_click(asker: Asker, user: User, lead: Lead, action: dict) -> Reply | None:
    slack_user_id = str(action.get("selected_user") or "")
    if not _SLACK_USER.fullmatch(slack_user_id):
        return Reply(Answer(msg.FORGED))
    # Who a Slack user is may take a users.info call: the actor refreshes the card.
    return _enqueued(
        lambda: slack_lead_assign.send(
            installation_id=asker.installation.pk,
            user_id=user.pk,
            lead_id=lead.pk,
            assignee_slack_user_id=slack_user_id,
            response_url=asker.response_url,
            replace_original=True,
            public=asker.in_channel,
        )
    )


def show_click(asker: Asker, action: dict) -> Reply | None:
    """A list's View button: the lead's card, below the list."""
    try:
        user = asker.member()
    except SlackLinkError as exc:
        return Reply(Answer(str(exc)))
    lead_id = _action_lead_id(action)
    return Reply(_shown(asker, user, lead_id) if lead_id else Answer(msg.FORGED))


def page_click(asker: Asker, action: dict) -> Reply | None:
    """Previous or Next 10: an actor answers in place of the page clicked."""
    page = cards.page_read(str(action.get("value") or ""))
    if page is None:
        return Reply(Answer(msg.FORGED))
    return _enqueued(
        lambda: slack_lead_page.send(
            installation_id=asker.installation.pk,
            slack_user_id=asker.slack_user_id,
            response_url=asker.response_url,
            public=asker.in_channel,
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
    cards.STATUS_ACTION: _on_lead(status_click),
    cards.CONVERT_ACTION: _on_lead(convert_click),
    cards.ASSIGN_ACTION: _on_lead(assign_click),
    cards.SHOW_ACTION: show_click,
    cards.PAGE_ACTION: page_click,
}


# -- the listeners -----------------------------------------------------------------------------


def register(app: App, *, installation_key: str) -> None:
    def lead_command(ack: Ack, command: dict, context: BoltContext) -> None:
        asker = Asker(
            installation=context[installation_key],
            slack_user_id=str(command.get("user_id") or ""),
            response_url=str(command.get("response_url") or ""),
            trigger_id=str(command.get("trigger_id") or ""),
        )
        try:
            answer = lead_answer(asker=asker, text=str(command.get("text") or ""))
        except Exception:
            logger.exception("slack /lead: the command failed")
            answer = Answer(msg.HUB_ERROR)
        if not answer.text:
            ack()  # the form opened: nothing to say
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
                logger.exception("slack /lead: a click failed")
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

    app.command("/lead")(lead_command)
    for prefix, answer in CLICKS.items():
        app.action(re.compile(rf"^{prefix}:"))(on_click(answer))
    app.action(re.compile(rf"^{cards.OPEN_ACTION}:"))(_link_clicked)
    modals.register(app, installation_key=installation_key)


def _link_clicked(ack: Ack) -> None:
    ack()  # the browser opens the link; Slack still tells the app
