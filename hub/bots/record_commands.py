"""What ``/deal`` and ``/lead`` share: who asked (:class:`Asker`), a click's answer
(:class:`Reply`), reading the text typed, and :class:`RecordCommand`, which answers what both
commands have (help and usage, ``show``, ``assign``, ``note``, ``new``; a card's assign picker,
a list's View and Previous/Next 10) and registers their listeners. ``deals`` and ``leads`` give
it their records (``deal_cards.DEALS``, ``lead_cards.LEADS``) and their own sub-commands and
clicks.

Answers are ephemeral unless the member adds ``share``. A listener reads and writes the
database only; what needs Slack (a mention to resolve, another page, a card refreshed after a
click) is answered by an actor through the ``response_url``, except ``views.open``, which must
use the command's or click's ``trigger_id`` within Slack's 3 s. Every request checks again who
the member is, reads through their view of the company's records (another company's is "not
found") and checks the permission before a change.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal

from django.core.exceptions import ValidationError
from slack_bolt import Ack, App, BoltContext

from hub.bots import record_messages as common
from hub.bots.crm_text import Answer, mention_user_id, record_id, split_command
from hub.bots.record_cards import CardActions, Records
from hub.bots.record_messages import R
from hub.domain.authentication.models import User
from hub.domain.crm.access import CrmAccessDenied, crm_can_manage, crm_manage_check
from hub.domain.crm.deal_selectors import member_match
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import SlackLinkError, slack_user_resolve
from hub.workers.slack_crm import respond_soon

logger = logging.getLogger(__name__)

#: A click or a form may make two Slack calls before it is answered (users.info, views.open).
CLICK_SLACK_TIMEOUT_SECONDS = 1.0
_ID_AND_REST = re.compile(r"(\S*)\s*(.*)", re.DOTALL)
# The first word is the id: a number, or a link (Slack writes it <url|label>, spaces and all).
_LINK_AND_REST = re.compile(r"(<[^>]*>|\S*)\s*(.*)", re.DOTALL)
_SHARE = re.compile(r"(?:^|\s+)share$", re.IGNORECASE)
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,31}")
MINE = re.compile(r"\b(?:mine|my)\b", re.IGNORECASE)


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


Command = Callable[[Asker, User, str], Answer]
Click = Callable[[Asker, dict], Reply | None]
Change = Callable[[Asker, User, R, dict], Reply | None]


def clean(text: str) -> str:
    """The command's text as typed: Slack escapes ``&``, ``<`` and ``>``; NULs are dropped."""
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return "".join(ch for ch in text if ch >= " " or ch in "\n\t").strip()


def share(rest: str) -> tuple[str, bool]:
    """The text without a last word ``share``, and whether it was there."""
    stripped = _SHARE.sub("", rest)
    return stripped.strip(), stripped != rest


def id_and_rest(rest: str, *, links: bool = False) -> tuple[str, str]:
    """The first word (the record's id; with ``links``, a Slack link too) and the rest."""
    match = (_LINK_AND_REST if links else _ID_AND_REST).match(rest.strip())
    return (match.group(1), match.group(2).strip()) if match else ("", "")


def refreshed(answer: Answer) -> Reply:
    """A card replaces the card clicked; a sentence alone (a refusal) comes below it."""
    return Reply(answer, replace=bool(answer.blocks))


@dataclass(frozen=True)
class RecordCommand(Generic[R]):
    """``/deal`` or ``/lead``: what they answer alike, given what differs."""

    records: Records[R]
    commands: dict[str, Command]  # its own sub-commands, besides show, assign, note and new
    #: Its own clicks on a card, by action id: each changes the record the action id names.
    changes: dict[str, Change[R]]
    actions: CardActions
    action_record_id: Callable[[dict], int | None]  # the record a card's action id names
    page_read: Callable[[str], dict[str, Any] | None]  # a page button's value, None if forged
    page_send: Callable[[Asker, dict[str, Any]], Any]  # enqueue the actor showing that page
    assign_actor: Any  # the actor assigning to a Slack user (``<kind>_id=`` names the record)
    new_form_open: Callable[[Asker, User], str | None]  # the "New …" form: None, or why not
    register_forms: Callable[..., None]  # listens to the forms' submissions
    forms: frozenset[str] = frozenset({"new"})  # sub-commands that may open a form
    bare_id_shows: bool = False  # ``/lead 7`` is ``/lead show 7``
    links_in_text: bool = False  # a link pasted as the id may hold spaces (``<url|label>``)
    me: tuple[str, ...] = ("me", "myself")
    nobody: tuple[str, ...] = ()  # words that unassign (none: a record is always someone's)

    @property
    def kind(self) -> Literal["deal", "lead"]:
        return self.records.words.kind

    def all_commands(self) -> dict[str, Command]:
        shared = {"show": self.show, "assign": self.assign, "note": self.note, "new": self.new}
        return shared | self.commands

    # -- the command ---------------------------------------------------------------------------

    def answer(self, asker: Asker, text: str) -> Answer:
        """Answer ``/<kind> <text>``."""
        words, commands = self.records.words, self.all_commands()
        text = clean(text)
        sub, rest = split_command(text)
        if sub in ("", "help", "?"):
            topic = words.aliases.get(rest.lower(), rest.lower())
            return Answer(words.usage.get(topic, words.help))
        sub = words.aliases.get(sub, sub)
        bare_id = self.bare_id_shows and record_id(share(text)[0], self.kind) is not None
        if sub not in commands and bare_id:
            sub, rest = "show", text  # `/lead 7`, `/lead <link>`: the card
        if sub not in commands:
            close = difflib.get_close_matches(sub, list(commands), n=1, cutoff=0.6)
            return Answer(words.unknown(sub, close[0] if close else None))
        if rest.lower() == "help":
            return Answer(words.usage[sub])
        try:
            # Opening a form is one more Slack call before Slack's 3 s are up.
            user = asker.member(timeout=1.0 if sub in self.forms else 2.0)
        except SlackLinkError as exc:
            return Answer(str(exc))
        return commands[sub](asker, user, rest)

    def id_and_rest(self, rest: str) -> tuple[str, str]:
        return id_and_rest(rest, links=self.links_in_text)

    def target(self, asker: Asker, user: User, rest: str, sub: str) -> tuple[R, str] | Answer:
        """The record ``sub`` changes (its id first in ``rest``) and the text after the id, or
        the answer saying why not (the usage, when there is no text)."""
        raw_id, text = self.id_and_rest(rest)
        if not text:
            return Answer(self.records.words.usage[sub])
        record = self.changeable(asker, user, record_id(raw_id, self.kind), sub, raw_id)
        return record if isinstance(record, Answer) else (record, text)

    def changeable(
        self, asker: Asker, user: User, pk: int | None, sub: str, raw: str
    ) -> R | Answer:
        """The record the member may change, or the answer saying why not."""
        words = self.records.words
        if pk is None:
            return Answer(words.not_an_id(raw, sub))
        try:
            crm_manage_check(user=user, company=asker.company)
        except CrmAccessDenied as exc:
            return Answer(str(exc))
        record = self.records.get(user, asker.company, pk)
        if record is None:
            return Answer(words.not_found(pk, asker.company.company_name))
        return record

    def show(self, asker: Asker, user: User, rest: str) -> Answer:
        rest, public = share(rest)
        pk = record_id(rest, self.kind)
        if pk is None:
            return Answer(self.records.words.not_an_id(rest, "show"))
        answer = self.shown(asker, user, pk)
        answer.public = public and bool(answer.blocks)
        return answer

    def shown(self, asker: Asker, user: User, pk: int) -> Answer:
        record = self.records.get(user, asker.company, pk)
        if record is None:
            return Answer(self.records.words.not_found(pk, asker.company.company_name))
        can = crm_can_manage(user=user, company=asker.company)
        return Answer(self.records.line(record), self.records.card(record, can))

    def assign(self, asker: Asker, user: User, rest: str) -> Answer:
        words = self.records.words
        found = self.target(asker, user, rest, "assign")
        if isinstance(found, Answer):
            return found
        record, whom = found
        slack_user_id = mention_user_id(whom)
        if slack_user_id is not None:
            # Who a Slack user is may take a users.info call: an actor answers.
            return self.enqueue(
                lambda: self._assign_later(asker, user, record, slack_user_id),
                Answer(words.assigning(record, slack_user_id)),
            )
        if whom.lower() in self.me:
            return self.assign_to(record, user, user=user)
        if whom.lower() in self.nobody:
            return self.assign_to(record, None, user=user)
        match = member_match(company=asker.company, text=whom)
        if match.found is None:
            name = asker.company.company_name
            return Answer(words.assignee_unmatched(whom, match.candidates, name))
        return self.assign_to(record, match.found, user=user)

    def assign_to(self, record: R, assignee: User | None, *, user: User) -> Answer:
        records = self.records
        if record.assigned_to_id == (assignee.pk if assignee else None):
            return records.card_answer(record, records.words.already_assigned(record), user=user)
        record = records.assign(record, assignee, user)
        return records.card_answer(record, records.words.assigned(record), user=user)

    def _assign_later(self, asker: Asker, user: User, record: R, slack_user_id: str, **click):
        self.assign_actor.send(
            installation_id=asker.installation.pk,
            user_id=user.pk,
            assignee_slack_user_id=slack_user_id,
            response_url=asker.response_url,
            **{f"{self.kind}_id": record.pk},
            **click,
        )

    def note(self, asker: Asker, user: User, rest: str) -> Answer:
        found = self.target(asker, user, rest, "note")
        if isinstance(found, Answer):
            return found
        record, text = found
        try:
            self.records.add_note(record, user, text)
        except ValidationError as exc:
            return Answer(common.note_refused(" ".join(exc.messages)))
        return Answer(self.records.words.note_added(record))

    def new(self, asker: Asker, user: User, rest: str) -> Answer:
        try:
            crm_manage_check(user=user, company=asker.company)
        except CrmAccessDenied as exc:
            return Answer(str(exc))
        return Answer(self.new_form_open(asker, user) or "")

    def enqueue(self, send: Callable[[], Any], answer: Answer) -> Answer:
        try:
            send()
        except Exception:
            logger.exception("slack /%s: could not enqueue a job", self.kind)
            return Answer(common.QUEUE_DOWN)
        return answer

    def enqueued(self, send: Callable[[], Any]) -> Reply | None:
        """A click answered by an actor: nothing to say now, unless the queue is down."""
        queued = self.enqueue(send, Answer(""))
        return Reply(queued) if queued.text else None

    # -- clicks --------------------------------------------------------------------------------

    def on_record(self, change: Change[R]) -> Click:
        """A click that changes the record its action id names, if the member may change it."""

        def answer(asker: Asker, action: dict) -> Reply | None:
            clicked = self._clicked(asker, action)
            if isinstance(clicked, Reply):
                return clicked
            user, pk = clicked
            record = self.changeable(asker, user, pk, "show", "")
            return (
                Reply(record) if isinstance(record, Answer) else change(asker, user, record, action)
            )

        return answer

    def assign_click(self, asker: Asker, user: User, record: R, action: dict) -> Reply | None:
        slack_user_id = str(action.get("selected_user") or "")
        if not _SLACK_USER.fullmatch(slack_user_id):
            return Reply(Answer(self.records.words.forged))
        # Who a Slack user is may take a users.info call: the actor refreshes the card.
        return self.enqueued(
            lambda: self._assign_later(
                asker, user, record, slack_user_id, replace_original=True, public=asker.in_channel
            )
        )

    def show_click(self, asker: Asker, action: dict) -> Reply | None:
        """A list's View button: the record's card, below the list."""
        clicked = self._clicked(asker, action)
        return clicked if isinstance(clicked, Reply) else Reply(self.shown(asker, *clicked))

    def _clicked(self, asker: Asker, action: dict) -> tuple[User, int] | Reply:
        """Who clicked and the record the action id names, or the answer saying why not."""
        try:
            user = asker.member()
        except SlackLinkError as exc:
            return Reply(Answer(str(exc)))
        pk = self.action_record_id(action)
        return (user, pk) if pk else Reply(Answer(self.records.words.forged))

    def page_click(self, asker: Asker, action: dict) -> Reply | None:
        """Previous or Next 10: an actor answers with that page."""
        page = self.page_read(str(action.get("value") or ""))
        if page is None:
            return Reply(Answer(self.records.words.forged))
        return self.enqueued(lambda: self.page_send(asker, page))

    # -- the listeners -------------------------------------------------------------------------

    def register(self, app: App, *, installation_key: str) -> None:
        """Listen to the command, the clicks on its cards and lists, and its forms."""
        kind, actions = self.kind, self.actions
        clicks: dict[str, Click] = {
            **{action: self.on_record(change) for action, change in self.changes.items()},
            actions.assign: self.on_record(self.assign_click),
            actions.show: self.show_click,
            actions.page: self.page_click,
        }

        def command_listener(ack: Ack, command: dict, context: BoltContext) -> None:
            asker = Asker(
                installation=context[installation_key],
                slack_user_id=str(command.get("user_id") or ""),
                response_url=str(command.get("response_url") or ""),
                trigger_id=str(command.get("trigger_id") or ""),
            )
            try:
                answer = self.answer(asker, str(command.get("text") or ""))
            except Exception:
                logger.exception("slack /%s: the command failed", kind)
                answer = Answer(common.HUB_ERROR)
            if not answer.text:
                ack()  # a form opened: nothing to say
                return
            response_type = "in_channel" if answer.public else "ephemeral"
            ack(text=answer.text, blocks=answer.blocks or None, response_type=response_type)

        def on_click(answer: Click):
            def listener(ack: Ack, body: dict, action: dict, context: BoltContext) -> None:
                ack()
                asker = _click_asker(body, context[installation_key])
                try:
                    reply = answer(asker, action)
                except Exception:
                    logger.exception("slack /%s: a click failed", kind)
                    reply = Reply(Answer(common.HUB_ERROR))
                if reply is not None and asker.response_url:
                    respond_soon(
                        response_url=asker.response_url,
                        text=reply.answer.text,
                        blocks=reply.answer.blocks,
                        replace_original=reply.replace,
                        public=reply.replace and asker.in_channel,
                    )

            return listener

        app.command(f"/{kind}")(command_listener)
        for prefix, answer in clicks.items():
            app.action(re.compile(rf"^{prefix}:"))(on_click(answer))
        app.action(re.compile(rf"^{actions.open}:"))(_link_clicked)
        self.register_forms(app, installation_key=installation_key)


def _click_asker(body: dict, installation: SlackInstallation) -> Asker:
    container = body.get("container") or {}
    return Asker(
        installation=installation,
        slack_user_id=str((body.get("user") or {}).get("id") or ""),
        response_url=str(body.get("response_url") or ""),
        trigger_id=str(body.get("trigger_id") or ""),
        in_channel=container.get("is_ephemeral") is False,
    )


def _link_clicked(ack: Ack) -> None:
    ack()  # the browser opens the link; Slack still tells the app
