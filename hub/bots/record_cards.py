"""What the cards and lists of ``/deal`` and ``/lead`` share: Block Kit's pieces (text, the
buttons every card has, a list's rows and its Previous/Next 10), and :class:`Records`, how one
kind of record is read, shown and changed for a member, which the commands (``record_commands``)
and their actors (``hub/workers/slack_crm.py``) use alike.

Action ids name the record (``deal_move:42``, ``lead_status:7``), as ``/call``'s buttons do
(``call_pick:deal:42``); a listener takes them as a wish only: the member, the company and the
permission are checked again on every click, and a record the member cannot see is "not found".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple

from django.db.models import QuerySet

from hub.bots import record_messages as common
from hub.bots.calls import PICK_ACTION
from hub.bots.crm_text import Answer, RecordKind, record_url
from hub.bots.record_messages import R, Words
from hub.domain.authentication.models import Company, User
from hub.domain.crm.access import crm_can_manage

PAGE_SIZE = 10
Blocks = list[dict[str, Any]]


@dataclass(frozen=True)
class Records(Generic[R]):
    """One kind of record (deals, leads) as Slack shows and changes it for a member."""

    words: Words[R]
    #: ``(user, company, id)``: the record if ``user`` may see it, else None.
    get: Callable[[User, Company, int], R | None]
    #: ``(user, company)``: every record ``user`` may see.
    visible: Callable[[User, Company], QuerySet[R]]
    line: Callable[[R], str]  # one line of a list
    card: Callable[[R, bool], Blocks]  # the card, with its buttons when the flag is set
    assign: Callable[[R, User | None, User], R]  # ``(record, assignee, by)``: the service
    add_note: Callable[[R, User, str], Any]  # ``(record, by, text)``: the service

    def card_answer(self, record: R, text: str, *, user: User) -> Answer:
        """``text`` above the record's card, with its buttons if ``user`` may change it."""
        can = crm_can_manage(user=user, company=record.company)
        return Answer(text, note_blocks(text, self.card(record, can)))


@dataclass(frozen=True)
class CardActions:
    """The action ids (before ``:<id>``) that every record's card and list have:
    ``<kind>_assign`` and so on."""

    assign: str  # the card's "Assign to…" picker
    show: str  # a list's View
    open: str  # the card's "Open in console" (a link: Slack still tells the app of the click)
    page: str  # a list's Previous/Next 10

    @classmethod
    def of(cls, kind: RecordKind) -> CardActions:
        return cls(*(f"{kind}_{what}" for what in ("assign", "show", "open", "page")))


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit] or " ", "emoji": True}


def note_blocks(text: str, blocks: Blocks) -> Blocks:
    """A sentence above a card (what was just done)."""
    return [{"type": "section", "text": mrkdwn(text)}, *blocks]


def assign_select(action: str, record_id: int) -> dict[str, Any]:
    """The card's "Assign to…" picker of Slack users."""
    return {
        "type": "users_select",
        "action_id": f"{action}:{record_id}",
        "placeholder": plain("Assign to…"),
    }


def call_and_open(
    kind: RecordKind, record_id: int, *, phone: str | None, open_action: str
) -> Blocks:
    """The card's last buttons: Call (when there is a phone number), Open in console (when
    the hub's address is known)."""
    elements: Blocks = []
    if phone:
        elements.append(
            {
                "type": "button",
                "action_id": f"{PICK_ACTION}:{kind}:{record_id}",
                "text": plain("Call"),
                "value": f"{kind}:{record_id}",
            }
        )
    url = record_url(kind, record_id)
    if url:
        elements.append(
            {
                "type": "button",
                "action_id": f"{open_action}:{record_id}",
                "text": plain("Open in console"),
                "url": url,
            }
        )
    return elements


# -- a page of a list --------------------------------------------------------------------------


def list_row(line: str, *, show_action: str, record_id: int) -> dict[str, Any]:
    """A row of a list: its line(s), and a View button for the record's card."""
    return {
        "type": "section",
        "text": mrkdwn(line),
        "accessory": {
            "type": "button",
            "action_id": f"{show_action}:{record_id}",
            "text": plain(common.VIEW),
            "value": str(record_id),
        },
    }


class Paging(NamedTuple):
    """A list's Previous/Next 10: their actions block, their action id, and the value of the
    button showing the page at an offset (what to list, from where: checked again when
    clicked)."""

    block_id: str
    action: str
    value: Callable[[int], str]


def json_object(value: Any) -> dict[str, Any] | None:
    """What a page button's value, or a form's metadata, holds: a JSON object, else None."""
    try:
        data = json.loads(value) if isinstance(value, str) else None
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def list_message(
    heading: str,
    items: list[tuple[str, dict[str, Any]]],
    *,
    total: int,
    offset: int,
    paging: Paging,
) -> tuple[str, Blocks]:
    """A page of a list: its text (the notification's) and blocks; ``items`` are each record's
    line and row."""
    text = "\n".join([heading, *(f"• {line}" for line, _ in items)])
    blocks: Blocks = [{"type": "section", "text": mrkdwn(heading)}, *(row for _, row in items)]
    pages = []
    if offset > 0:
        pages.append((common.LIST_PREVIOUS, max(0, offset - PAGE_SIZE)))
    if offset + len(items) < total:
        pages.append((common.LIST_NEXT, offset + PAGE_SIZE))
    if pages:
        buttons = [_page_button(paging, label, at) for label, at in pages]
        blocks.append({"type": "actions", "block_id": paging.block_id, "elements": buttons})
    return text[:3000], blocks


def _page_button(paging: Paging, label: str, offset: int) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": f"{paging.action}:{offset}",
        "text": plain(label),
        "value": paging.value(offset),
    }
