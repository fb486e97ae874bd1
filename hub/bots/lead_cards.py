"""A lead as Slack Block Kit: the card (with its buttons) and the one-line summary."""

from __future__ import annotations

from typing import Any

from hub.bots.crm_text import escape
from hub.domain.crm.models import Lead


def lead_line(lead: Lead) -> str:
    """``#7 Jane Doe (Initech) · Qualified``: one line of a list."""
    who = escape(f"{lead.first_name} {lead.last_name}".strip())
    at = f" ({escape(lead.company_name)})" if lead.company_name else ""
    return f"#{lead.pk} {who}{at} · {lead.get_status_display()}"


def lead_card_blocks(lead: Lead, *, actions: bool = True) -> list[dict[str, Any]]:
    """The lead's card; with ``actions``, its buttons and selects."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": lead_line(lead)}}]
