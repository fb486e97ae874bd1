"""A lead as Slack Block Kit: the card (with its buttons and selects), the one-line summary and a
page of the list; and ``LEADS``, how ``/lead`` and its actors read, show and change a lead.
"""

from __future__ import annotations

import json
from typing import Any

from hub.bots import lead_messages as msg
from hub.bots import record_cards as kit
from hub.bots.crm_text import escape, money, record_url
from hub.bots.record_messages import who
from hub.domain.authentication.models import Company, User
from hub.domain.crm import deal_selectors as sel
from hub.domain.crm import services
from hub.domain.crm.access import leads_visible
from hub.domain.crm.models import Lead, LeadSource, LeadStatus

STATUS_ACTION = "lead_status"
CONVERT_ACTION = "lead_convert"
ACTIONS = kit.CardActions.of("lead")
MAX_OFFSET = 100_000
#: The statuses a member may pick; a lead becomes Converted only by converting it.
SETTABLE = [status.value for status in LeadStatus if status != LeadStatus.CONVERTED]


def lead_line(lead: Lead) -> str:
    """``#7 Jane Doe (Initech) · Qualified``: one line of a list."""
    name = escape(f"{lead.first_name} {lead.last_name}".strip())
    at = f" ({escape(lead.company_name)})" if lead.company_name else ""
    return f"#{lead.pk} {name}{at} · {lead.get_status_display()}"


def _status_option(status: str) -> dict[str, Any]:
    return {"text": kit.plain(LeadStatus(status).label), "value": status}


def _fields(lead: Lead) -> list[dict[str, Any]]:
    source = LeadSource(lead.lead_source).label if lead.lead_source in LeadSource else "—"
    value = money(lead.estimated_value, "") if lead.estimated_value is not None else "—"
    fields = [
        ("Status", lead.get_status_display()),
        ("Assigned to", who(lead.assigned_to)),
        ("Source", source),
        ("Estimated value", value),
        ("E-mail", escape(lead.email, 120)),
        ("Phone", escape(lead.phone or "—", 40)),
    ]
    return [kit.mrkdwn(f"*{name}*\n{value}") for name, value in fields]


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
        "text": kit.plain("Convert to deal"),
        "style": "primary",
        "value": str(lead.pk),
        "confirm": {
            "title": kit.plain("Convert this lead?", 100),
            "text": kit.mrkdwn(
                f"{msg.title(lead)} becomes a deal in the default pipeline's first stage."
            ),
            "confirm": kit.plain("Convert", 30),
            "deny": kit.plain("Cancel", 30),
        },
    }


def _actions(lead: Lead) -> list[dict[str, Any]]:
    elements: list[dict[str, Any]] = []
    if lead.status != LeadStatus.CONVERTED:
        select: dict[str, Any] = {
            "type": "static_select",
            "action_id": f"{STATUS_ACTION}:{lead.pk}",
            "placeholder": kit.plain("Set status"),
            "options": [_status_option(status) for status in SETTABLE],
        }
        if lead.status in SETTABLE:
            select["initial_option"] = _status_option(lead.status)
        elements.append(select)
    elements.append(kit.assign_select(ACTIONS.assign, lead.pk))
    if lead.status != LeadStatus.CONVERTED:
        elements.append(_convert_button(lead))
    elements += kit.call_and_open("lead", lead.pk, phone=lead.phone, open_action=ACTIONS.open)
    return elements


def lead_card_blocks(lead: Lead, *, actions: bool = True) -> list[dict[str, Any]]:
    """The lead's card; with ``actions``, its buttons and selects."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": kit.mrkdwn(_heading(lead)), "fields": _fields(lead)},
        {"type": "context", "elements": [kit.mrkdwn(_context(lead))]},
    ]
    if actions:
        blocks.append(
            {"type": "actions", "block_id": f"lead:{lead.pk}", "elements": _actions(lead)}
        )
    return blocks


# -- a page of the list ------------------------------------------------------------------------


def page_value(*, status: str | None, mine: bool, offset: int) -> str:
    """A page button's value: what to list, from where (checked again when clicked)."""
    return json.dumps({"status": status, "mine": mine, "offset": offset}, separators=(",", ":"))


def page_read(value: str) -> dict[str, Any] | None:
    """What a page button asks for (``status``, ``mine``, ``offset``), or None if it is forged."""
    wanted = kit.json_object(value)
    if wanted is None:
        return None
    status, mine, offset = wanted.get("status"), wanted.get("mine"), wanted.get("offset")
    if status is not None and status not in LeadStatus.values:
        return None
    if not isinstance(mine, bool) or type(offset) is not int or not 0 <= offset <= MAX_OFFSET:
        return None
    return {"status": status, "mine": mine, "offset": offset}


def _list_row(lead: Lead) -> dict[str, Any]:
    since = f" · since {lead.created_at:%-d %b}" if lead.created_at else ""
    line = f"{lead_line(lead)}\n_{who(lead.assigned_to)}{since}_"
    return kit.list_row(line, show_action=ACTIONS.show, record_id=lead.pk)


def list_page(
    *, user: User, company: Company, status: str | None, mine: bool, offset: int
) -> tuple[str, list[dict[str, Any]]]:
    """A page of the leads ``user`` may see in ``company`` (open ones, or those with
    ``status``), ready to show."""
    page = sel.lead_list(
        user=user, company=company, status=status, mine=mine, limit=kit.PAGE_SIZE, offset=offset
    )
    return list_blocks(page.leads, total=page.total, offset=offset, status=status, mine=mine)


def list_blocks(
    leads: list[Lead], *, total: int, offset: int, status: str | None, mine: bool
) -> tuple[str, list[dict[str, Any]]]:
    """A page of the list: its text (the notification's) and blocks, with Previous/Next 10."""
    heading = msg.list_heading(
        total=total, offset=offset, shown=len(leads), status=status, mine=mine
    )
    paging = kit.Paging(
        "lead_list", ACTIONS.page, lambda at: page_value(status=status, mine=mine, offset=at)
    )
    items = [(lead_line(lead), _list_row(lead)) for lead in leads]
    return kit.list_message(heading, items, total=total, offset=offset, paging=paging)


LEADS = kit.Records(
    words=msg.WORDS,
    get=lambda user, company, pk: sel.lead_get(user=user, company=company, lead_id=pk),
    visible=lambda user, company: leads_visible(user=user, company=company),
    line=lead_line,
    card=lambda lead, actions: lead_card_blocks(lead, actions=actions),
    assign=lambda lead, assignee, by: services.lead_assign(lead=lead, assignee=assignee, by=by),
    add_note=lambda lead, by, text: services.lead_add_note(lead=lead, by=by, text=text),
)
