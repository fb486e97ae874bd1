"""A deal as Slack Block Kit: the card (with its buttons and selects), the one-line summary, a
page of the list and the pipeline's table; and ``DEALS``, how ``/deal`` and its actors read,
show and change a deal.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hub.bots import crm_messages as msg
from hub.bots import record_cards as kit
from hub.bots.crm_text import Answer, escape, money, record_url
from hub.bots.record_messages import who
from hub.domain.authentication.models import Company, User
from hub.domain.crm import deal_selectors as sel
from hub.domain.crm import services
from hub.domain.crm.access import crm_can_manage, deals_visible
from hub.domain.crm.deal_selectors import MAX_ID, PipelineSummary, deal_list, pipeline_stages
from hub.domain.crm.models import Deal, DealStage, DealStatus
from hub.domain.crm.selectors import stage_closing_ids

MOVE_ACTION = "deal_move"
WON_ACTION = "deal_won"
LOST_ACTION = "deal_lost"
ACTIONS = kit.CardActions.of("deal")
OPTIONS_MAX = 100  # Slack's limit for a static_select


def action_deal_id(action: dict[str, Any]) -> int | None:
    """The deal a card's action id names (``deal_move:42``), or None."""
    raw = str(action.get("action_id") or "").partition(":")[2]
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and 0 < int(raw) <= MAX_ID:
        return int(raw)
    return None


def deal_line(deal: Deal) -> str:
    """``#42 Acme renewal · $12,500 · Proposal``: one line of a list."""
    return (
        f"#{deal.pk} {escape(deal.title)} · {money(deal.value, deal.currency)} · "
        f"{escape(deal.stage.name)}"
    )


def movable_stages(stages: list[DealStage]) -> list[DealStage]:
    closing = stage_closing_ids(stages)
    return [s for s in stages if s.pk not in closing]


def _stage_option(stage: DealStage) -> dict[str, Any]:
    return {"text": kit.plain(f"{stage.name} ({stage.probability}%)"), "value": str(stage.pk)}


def _weighted(deal: Deal) -> Decimal:
    return (Decimal(deal.value or 0) * deal.probability / 100).quantize(Decimal("0.01"))


def _status(deal: Deal) -> str:
    if deal.status == DealStatus.WON:
        return f"Won {deal.actual_close_date:%-d %b %Y}" if deal.actual_close_date else "Won"
    if deal.status == DealStatus.LOST:
        return f"Lost {deal.actual_close_date:%-d %b %Y}" if deal.actual_close_date else "Lost"
    return "Open"


def _fields(deal: Deal) -> list[dict[str, Any]]:
    value = money(deal.value, deal.currency)
    if deal.status == DealStatus.OPEN:
        value += f" (weighted {money(_weighted(deal), deal.currency)})"
    close = f"{deal.expected_close_date:%-d %b %Y}" if deal.expected_close_date else "—"
    contact = "\n".join(
        escape(part, 120)
        for part in (deal.contact_name, deal.contact_email, deal.contact_phone)
        if part
    )
    fields = [
        ("Value", value),
        ("Stage", f"{escape(deal.stage.name)} · {deal.probability}%"),
        ("Status", _status(deal)),
        ("Assigned to", who(deal.assigned_to)),
        ("Expected close", close),
        ("Contact", contact or "—"),
    ]
    return [kit.mrkdwn(f"*{name}*\n{value}") for name, value in fields]


def _heading(deal: Deal) -> str:
    name = escape(deal.title, 150)
    url = record_url("deal", deal.pk)
    head = f"*<{url}|#{deal.pk} {name}>*" if url else f"*#{deal.pk} {name}*"
    return f"{head}\n{escape(deal.company_name, 150)}" if deal.company_name else head


def _context(deal: Deal) -> str:
    return f"{escape(deal.pipeline.name, 80)} · updated {deal.updated_at:%-d %b %Y %H:%M} UTC"


def _confirm(title: str, text: str, ok: str) -> dict[str, Any]:
    return {
        "title": kit.plain(title, 100),
        "text": kit.mrkdwn(text),
        "confirm": kit.plain(ok, 30),
        "deny": kit.plain("Cancel", 30),
    }


def _open_actions(deal: Deal, stages: list[DealStage]) -> list[dict[str, Any]]:
    elements: list[dict[str, Any]] = []
    options = [_stage_option(s) for s in movable_stages(stages)][:OPTIONS_MAX]
    if options:
        select: dict[str, Any] = {
            "type": "static_select",
            "action_id": f"{MOVE_ACTION}:{deal.pk}",
            "placeholder": kit.plain("Move to stage"),
            "options": options,
        }
        current = [o for o in options if o["value"] == str(deal.stage_id)]
        if current:
            select["initial_option"] = current[0]
        elements.append(select)
    elements.append(
        {
            "type": "button",
            "action_id": f"{WON_ACTION}:{deal.pk}",
            "text": kit.plain("Won"),
            "style": "primary",
            "value": str(deal.pk),
            "confirm": _confirm(
                "Mark this deal won?",
                f"{msg.title(deal)} ({money(deal.value, deal.currency)}) is closed as won.",
                "Won",
            ),
        }
    )
    elements.append(
        {
            "type": "button",
            "action_id": f"{LOST_ACTION}:{deal.pk}",
            "text": kit.plain("Lost"),
            "style": "danger",
            "value": str(deal.pk),
        }
    )
    return elements


def _actions(deal: Deal, stages: list[DealStage]) -> list[dict[str, Any]]:
    elements = _open_actions(deal, stages) if deal.status == DealStatus.OPEN else []
    elements.append(kit.assign_select(ACTIONS.assign, deal.pk))
    elements += kit.call_and_open(
        "deal", deal.pk, phone=deal.contact_phone, open_action=ACTIONS.open
    )
    return elements


def deal_card_blocks(
    deal: Deal, *, actions: bool = True, stages: list[DealStage] | None = None
) -> list[dict[str, Any]]:
    """The deal's card; with ``actions``, its buttons and selects (``stages``: the pipeline's,
    when the caller has them; otherwise they are read)."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": kit.mrkdwn(_heading(deal)), "fields": _fields(deal)},
    ]
    if deal.status == DealStatus.LOST and deal.lost_reason:
        blocks.append(
            {
                "type": "section",
                "text": kit.mrkdwn(f"*Lost because*\n{escape(deal.lost_reason, 1000)}"),
            }
        )
    blocks.append({"type": "context", "elements": [kit.mrkdwn(_context(deal))]})
    if actions:
        if stages is None and deal.status == DealStatus.OPEN:
            stages = pipeline_stages(pipeline=deal.pipeline)
        blocks.append(
            {
                "type": "actions",
                "block_id": f"deal:{deal.pk}",
                "elements": _actions(deal, stages or []),
            }
        )
    return blocks


def card_answer(
    deal: Deal, text: str, *, user: User, stages: list[DealStage] | None = None
) -> Answer:
    """``text`` above the deal's card, with its buttons if ``user`` may change deals."""
    can = crm_can_manage(user=user, company=deal.company)
    return Answer(text, kit.note_blocks(text, deal_card_blocks(deal, actions=can, stages=stages)))


# -- a page of the list ------------------------------------------------------------------------


def page_value(*, stage_id: int | None, mine: bool, closing: bool, offset: int) -> str:
    """A page button's value: what to list, from where (checked again when clicked)."""
    data = {"stage": stage_id, "mine": mine, "closing": closing, "offset": offset}
    return json.dumps(data, separators=(",", ":"))


def page_read(value: str) -> dict[str, Any] | None:
    """A page button's value as ``slack_deal_page``'s arguments, or None if it is not one."""
    data = kit.json_object(value)
    if data is None:
        return None
    stage_id, offset = data.get("stage"), data.get("offset")
    if not (stage_id is None or type(stage_id) is int) or type(offset) is not int:
        return None
    return {
        "stage_id": stage_id,
        "mine": data.get("mine") is True,
        "closing": data.get("closing") is True,
        "offset": max(0, min(offset, 100_000)),
    }


def _list_row(deal: Deal) -> dict[str, Any]:
    close = f" · closes {deal.expected_close_date:%-d %b}" if deal.expected_close_date else ""
    line = f"{deal_line(deal)}\n_{who(deal.assigned_to)}{close}_"
    return kit.list_row(line, show_action=ACTIONS.show, record_id=deal.pk)


def list_page(
    *,
    user: User,
    company: Company,
    stage: DealStage | None,
    mine: bool,
    closing: bool,
    offset: int,
) -> tuple[str, list[dict[str, Any]]]:
    """A page of the deals ``user`` may see in ``company`` (open ones), ready to show."""
    page = deal_list(
        user=user,
        company=company,
        stage=stage,
        mine=mine,
        closing_this_month=closing,
        limit=kit.PAGE_SIZE,
        offset=offset,
    )
    if not page.deals and offset:
        return msg.list_empty_page(), []
    return list_blocks(
        page.deals, total=page.total, offset=offset, stage=stage, mine=mine, closing=closing
    )


def list_blocks(
    deals: list[Deal],
    *,
    total: int,
    offset: int,
    stage: DealStage | None,
    mine: bool,
    closing: bool,
) -> tuple[str, list[dict[str, Any]]]:
    """A page of the list: its text (the notification's) and blocks, with Previous/Next 10."""
    heading = msg.list_heading(
        total=total, offset=offset, shown=len(deals), stage=stage, mine=mine, closing=closing
    )
    stage_id = stage.pk if stage else None
    paging = kit.Paging(
        "deal_list",
        ACTIONS.page,
        lambda at: page_value(stage_id=stage_id, mine=mine, closing=closing, offset=at),
    )
    items = [(deal_line(deal), _list_row(deal)) for deal in deals]
    return kit.list_message(heading, items, total=total, offset=offset, paging=paging)


# -- the pipeline ------------------------------------------------------------------------------


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def pipeline_blocks(summary: PipelineSummary) -> tuple[str, list[dict[str, Any]]]:
    """The pipeline as one table: per stage the count, total and weighted value."""
    if summary.pipeline is None:
        return msg.NO_PIPELINE, []
    cur = summary.currency
    rows = [("Stage", "Deals", "Total", "Weighted")]
    closing = stage_closing_ids([s.stage for s in summary.stages])
    rows += [
        (s.stage.name, str(s.count), money(s.total, cur), money(s.weighted, cur))
        for s in summary.stages
        if s.count or s.stage.pk not in closing  # open deals are rarely in Closed Won/Lost
    ]
    rows.append(
        ("All stages", str(summary.count), money(summary.total, cur), money(summary.weighted, cur))
    )
    width = min(24, max(len(r[0]) for r in rows))
    widths = [max(len(r[i]) for r in rows) for i in (1, 2, 3)]
    lines = [
        f"{_cell(name, width):<{width}}  {n:>{widths[0]}}  {t:>{widths[1]}}  {w:>{widths[2]}}"
        for name, n, t, w in rows
    ]
    table = escape("\n".join(lines), limit=2900)
    heading = msg.pipeline_heading(summary.pipeline.name, summary.count)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": kit.mrkdwn(heading)},
        {"type": "section", "text": kit.mrkdwn(f"```{table}```")},
    ]
    notes = [f"Values in {cur}; weighted by each deal's probability."]
    if summary.other_currencies:
        notes.append(msg.pipeline_others(summary.other_currencies))
    blocks.append({"type": "context", "elements": [kit.mrkdwn(" ".join(notes))]})
    return f"{heading}\n{table}", blocks


DEALS = kit.Records(
    words=msg.WORDS,
    get=lambda user, company, pk: sel.deal_get(user=user, company=company, deal_id=pk),
    visible=lambda user, company: deals_visible(user=user, company=company),
    line=deal_line,
    card=lambda deal, actions: deal_card_blocks(deal, actions=actions),
    assign=lambda deal, assignee, by: services.deal_assign(deal=deal, assignee=assignee, by=by),
    add_note=lambda deal, by, text: services.deal_add_note(deal=deal, by=by, text=text),
)
