"""A lead as Slack Block Kit: the card (with its buttons and selects), the one-line summary and a
page of the list.

Action ids name the lead (``lead_status:7``), as ``/call``'s buttons do (``call_pick:lead:7``);
a listener takes them as a wish only: the member, the company and the permission are checked
again on every click, and a lead the member cannot see is "not found".
"""

from __future__ import annotations

import json
from typing import Any

from hub.bots import lead_messages as msg
from hub.bots.calls import PICK_ACTION
from hub.bots.crm_text import Answer, escape, money, record_url
from hub.domain.authentication.models import User
from hub.domain.crm.access import crm_can_manage
from hub.domain.crm.models import Lead, LeadSource, LeadStatus

STATUS_ACTION = "lead_status"
ASSIGN_ACTION = "lead_assign"
CONVERT_ACTION = "lead_convert"
SHOW_ACTION = "lead_show"
OPEN_ACTION = "lead_open"  # a link button: Slack still tells the app of the click
PAGE_ACTION = "lead_page"
PAGE_SIZE = 10
MAX_OFFSET = 100_000
#: The statuses a member may pick; a lead becomes Converted only by converting it.
SETTABLE = [status.value for status in LeadStatus if status != LeadStatus.CONVERTED]


def lead_line(lead: Lead) -> str:
    """``#7 Jane Doe (Initech) · Qualified``: one line of a list."""
    who = escape(f"{lead.first_name} {lead.last_name}".strip())
    at = f" ({escape(lead.company_name)})" if lead.company_name else ""
    return f"#{lead.pk} {who}{at} · {lead.get_status_display()}"


def _text(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit] or " ", "emoji": True}


def _status_option(status: str) -> dict[str, Any]:
    return {"text": _plain(LeadStatus(status).label), "value": status}


def _fields(lead: Lead) -> list[dict[str, Any]]:
    source = LeadSource(lead.lead_source).label if lead.lead_source in LeadSource else "—"
    value = money(lead.estimated_value, "") if lead.estimated_value is not None else "—"
    fields = [
        ("Status", lead.get_status_display()),
        ("Assigned to", msg.who(lead.assigned_to)),
        ("Source", source),
        ("Estimated value", value),
        ("E-mail", escape(lead.email, 120)),
        ("Phone", escape(lead.phone or "—", 40)),
    ]
    return [_text(f"*{name}*\n{value}") for name, value in fields]


def _heading(lead: Lead) -> str:
    name = escape(f"{lead.first_name} {lead.last_name}".strip(), 150)
    url = record_url("lead", lead.pk)
    head = f"*<{url}|#{lead.pk} {name}>*" if url else f"*#{lead.pk} {name}*"
    role = " at ".join(escape(part, 120) for part in (lead.job_title, lead.company_name) if part)
    return f"{head}\n{role}" if role else head


def _context(lead: Lead) -> str:
    parts = [f"Lead since {lead.created_at:%-d %b %Y}"] if lead.created_at else ["Lead"]
    if lead.status == LeadStatus.CONVERTED and lead.converted_to_deal_id:
        deal_id = lead.converted_to_deal_id
        parts.append(f"converted to deal #{deal_id} (`/deal show {deal_id}`)")
    return " · ".join(parts)


def _convert_button(lead: Lead) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": f"{CONVERT_ACTION}:{lead.pk}",
        "text": _plain("Convert to deal"),
        "style": "primary",
        "value": str(lead.pk),
        "confirm": {
            "title": _plain("Convert this lead?", 100),
            "text": _text(
                f"{msg.title(lead)} becomes a deal in the default pipeline's first stage."
            ),
            "confirm": _plain("Convert", 30),
            "deny": _plain("Cancel", 30),
        },
    }


def _actions(lead: Lead) -> list[dict[str, Any]]:
    elements: list[dict[str, Any]] = []
    if lead.status != LeadStatus.CONVERTED:
        select: dict[str, Any] = {
            "type": "static_select",
            "action_id": f"{STATUS_ACTION}:{lead.pk}",
            "placeholder": _plain("Set status"),
            "options": [_status_option(status) for status in SETTABLE],
        }
        if lead.status in SETTABLE:
            select["initial_option"] = _status_option(lead.status)
        elements.append(select)
    elements.append(
        {
            "type": "users_select",
            "action_id": f"{ASSIGN_ACTION}:{lead.pk}",
            "placeholder": _plain("Assign to…"),
        }
    )
    if lead.status != LeadStatus.CONVERTED:
        elements.append(_convert_button(lead))
    if lead.phone:
        elements.append(
            {
                "type": "button",
                "action_id": f"{PICK_ACTION}:lead:{lead.pk}",
                "text": _plain("Call"),
                "value": f"lead:{lead.pk}",
            }
        )
    url = record_url("lead", lead.pk)
    if url:
        elements.append(
            {
                "type": "button",
                "action_id": f"{OPEN_ACTION}:{lead.pk}",
                "text": _plain("Open in console"),
                "url": url,
            }
        )
    return elements


def lead_card_blocks(lead: Lead, *, actions: bool = True) -> list[dict[str, Any]]:
    """The lead's card; with ``actions``, its buttons and selects."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _text(_heading(lead)), "fields": _fields(lead)},
        {"type": "context", "elements": [_text(_context(lead))]},
    ]
    if actions:
        blocks.append(
            {"type": "actions", "block_id": f"lead:{lead.pk}", "elements": _actions(lead)}
        )
    return blocks


def note_blocks(text: str, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A sentence above a card (what was just done)."""
    return [{"type": "section", "text": _text(text)}, *blocks]


def card_answer(lead: Lead, text: str, *, user: User) -> Answer:
    """``text`` above the lead's card, with its buttons if ``user`` may change leads."""
    can = crm_can_manage(user=user, company=lead.company)
    return Answer(text, note_blocks(text, lead_card_blocks(lead, actions=can)))


# -- a page of the list ------------------------------------------------------------------------


def page_value(*, status: str | None, mine: bool, offset: int) -> str:
    """A page button's value: what to list, from where (checked again when clicked)."""
    return json.dumps({"status": status, "mine": mine, "offset": offset}, separators=(",", ":"))


def page_read(value: str) -> dict[str, Any] | None:
    """What a page button asks for (``status``, ``mine``, ``offset``), or None if it is forged."""
    try:
        wanted = json.loads(value)
    except (ValueError, RecursionError):
        return None
    if not isinstance(wanted, dict):
        return None
    status, mine, offset = wanted.get("status"), wanted.get("mine"), wanted.get("offset")
    if status is not None and status not in LeadStatus.values:
        return None
    if not isinstance(mine, bool) or type(offset) is not int or not 0 <= offset <= MAX_OFFSET:
        return None
    return {"status": status, "mine": mine, "offset": offset}


def _page_button(text: str, offset: int, *, status: str | None, mine: bool) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": f"{PAGE_ACTION}:{offset}",
        "text": _plain(text),
        "value": page_value(status=status, mine=mine, offset=offset),
    }


def _list_row(lead: Lead) -> dict[str, Any]:
    since = f" · since {lead.created_at:%-d %b}" if lead.created_at else ""
    line = f"{lead_line(lead)}\n_{msg.who(lead.assigned_to)}{since}_"
    return {
        "type": "section",
        "text": _text(line),
        "accessory": {
            "type": "button",
            "action_id": f"{SHOW_ACTION}:{lead.pk}",
            "text": _plain(msg.VIEW),
            "value": str(lead.pk),
        },
    }


def list_blocks(
    leads: list[Lead], *, total: int, offset: int, status: str | None, mine: bool
) -> tuple[str, list[dict[str, Any]]]:
    """A page of the list: its text (the notification's) and blocks, with Previous/Next 10."""
    heading = msg.list_heading(
        total=total, offset=offset, shown=len(leads), status=status, mine=mine
    )
    text = "\n".join([heading, *(f"• {lead_line(lead)}" for lead in leads)])
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _text(heading)}]
    blocks.extend(_list_row(lead) for lead in leads)
    buttons = []
    if offset > 0:
        back = max(0, offset - PAGE_SIZE)
        buttons.append(_page_button(msg.LIST_PREVIOUS, back, status=status, mine=mine))
    if offset + len(leads) < total:
        ahead = offset + PAGE_SIZE
        buttons.append(_page_button(msg.LIST_NEXT, ahead, status=status, mine=mine))
    if buttons:
        blocks.append({"type": "actions", "block_id": "lead_list", "elements": buttons})
    return text[:3000], blocks
