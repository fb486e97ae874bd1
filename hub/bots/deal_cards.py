"""A deal as Slack Block Kit: the card (with its buttons) and the one-line summary."""

from __future__ import annotations

from typing import Any

from hub.bots.crm_text import escape, money
from hub.domain.crm.models import Deal


def deal_line(deal: Deal) -> str:
    """``#42 Acme renewal · $12,500 · Proposal``: one line of a list."""
    return (
        f"#{deal.pk} {escape(deal.title)} · {money(deal.value, deal.currency)} · {deal.stage.name}"
    )


def deal_card_blocks(deal: Deal, *, actions: bool = True) -> list[dict[str, Any]]:
    """The deal's card; with ``actions``, its buttons and selects."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": deal_line(deal)}}]
