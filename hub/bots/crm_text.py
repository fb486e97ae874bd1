"""Reading what members type in Slack and writing it back safely: ids, links, mentions, money.

Shared by ``/deal``, ``/lead``, ``/call``, App Home, unfurls and alerts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings

RecordKind = Literal["deal", "lead", "call"]

#: How much of a member's own text is echoed back at most.
ECHO_LIMIT = 80

# The console's pages for a record (the admin's change page), and the CRM's own
# (``…/deals/42``, ``…/leads/42/``); either may be pasted where an id is asked for.
_ADMIN_PATH = re.compile(r"/admin/(?:crm/(deal|lead)|calls/(call))/(\d{1,18})(?:/|$)")
_CRM_PATH = re.compile(r"/(deals|leads|calls)/(\d{1,18})(?:/|$|\?|#)")
_PLAIN_ID = re.compile(r"#?(\d{1,18})")
# Slack writes a link as <url> or <url|label>, a mention as <@U123> or <@U123|name>.
_SLACK_LINK = re.compile(r"<(https?://[^|>]+)(?:\|[^>]*)?>")
_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,31})(?:\|[^>]*)?>")


@dataclass
class Answer:
    """What a listener shows: the text (also the notification's) and, when richer, blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    public: bool = False  # posted in the channel (in_channel) rather than to the member only


def escape(text: str, limit: int | None = ECHO_LIMIT) -> str:
    """Escape ``&``, ``<`` and ``>`` as Slack asks, so typed text never becomes a mention or a
    link, and cut it to ``limit`` characters (``…`` marks the cut). NULs and other control
    characters are dropped."""
    text = "".join(ch for ch in text if ch >= " " or ch in "\n\t")
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def record_link(text: str) -> tuple[RecordKind, int] | None:
    """The record a console or CRM link names: ``("deal", 42)``, or None."""
    match = _SLACK_LINK.search(text)
    url = match.group(1) if match else text.strip()
    admin = _ADMIN_PATH.search(url)
    if admin:
        kind = admin.group(1) or admin.group(2)
        return kind, int(admin.group(3))  # type: ignore[return-value]
    crm = _CRM_PATH.search(url)
    if crm:
        return crm.group(1).rstrip("s"), int(crm.group(2))  # type: ignore[return-value]
    return None


def record_id(text: str, kind: RecordKind) -> int | None:
    """The id of a ``kind`` record written as ``42``, ``#42`` or a link to its page; else None.

    A link to a record of another kind is not taken for this one.
    """
    text = text.strip()
    plain = _PLAIN_ID.fullmatch(text)
    if plain:
        return int(plain.group(1))
    linked = record_link(text)
    if linked is not None and linked[0] == kind:
        return linked[1]
    return None


def record_url(kind: RecordKind, record_id: int) -> str | None:
    """The console page of a record (its admin change page), when ``HUB_PUBLIC_URL`` is set."""
    if not settings.HUB_PUBLIC_URL:
        return None
    path = {"deal": "crm/deal", "lead": "crm/lead", "call": "calls/call"}[kind]
    return f"{settings.HUB_PUBLIC_URL}/admin/{path}/{record_id}/change/"


def mention_user_id(text: str) -> str | None:
    """The Slack user id of a mention (``<@U123>`` or ``<@U123|jane>``), or None."""
    match = _MENTION.fullmatch(text.strip())
    return match.group(1) if match else None


_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CAD": "CA$", "AUD": "A$"}


def money(value: Decimal | int | float | None, currency: str = "USD") -> str:
    """``$12,500`` / ``€1,234.50`` / ``12,500 CHF``: whole amounts without cents."""
    amount = Decimal(value or 0)
    places = 0 if amount == amount.to_integral_value() else 2
    number = f"{amount:,.{places}f}"
    symbol = _SYMBOLS.get((currency or "").upper())
    return f"{symbol}{number}" if symbol else f"{number} {currency or ''}".rstrip()


def split_command(text: str) -> tuple[str, str]:
    """``"move 42 Proposal"`` → ``("move", "42 Proposal")``; the sub-command lower-cased."""
    head, _, rest = text.strip().partition(" ")
    return head.lower(), rest.strip()
