"""Link unfurls: links to the console's (or the CRM's) deal, lead and call pages, as cards.

Only for the member who shared them, and only what they may see: the Slack user must be an
active member of the workspace's company; a deal or lead goes through ``deal_get``/``lead_get``
(their visibility rule), a call must be the company's. Anything else stays a plain link.
"""

from __future__ import annotations

import logging
from typing import Any

from hub.bots.call_cards import call_card_blocks
from hub.bots.crm_text import record_link
from hub.bots.deal_cards import deal_card_blocks
from hub.bots.lead_cards import lead_card_blocks
from hub.domain.authentication.models import User
from hub.domain.calls.selectors import call_get
from hub.domain.crm.deal_selectors import deal_get, lead_get
from hub.integrations.slack.client import SlackError, unfurl
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import SlackLinkError, slack_bot_token, slack_user_resolve

logger = logging.getLogger(__name__)

#: Links of one message unfolded at most (Slack sends a handful; a flood is cut).
LINKS_MAX = 10


def link_card(
    *, url: str, user: User, installation: SlackInstallation
) -> list[dict[str, Any]] | None:
    """The card a link unfolds into for ``user``, or None (not a record's page, or not theirs)."""
    found = record_link(url)
    if found is None:
        return None
    kind, record_id = found
    company = installation.company
    if kind == "deal":
        deal = deal_get(user=user, company=company, deal_id=record_id)
        return deal_card_blocks(deal, actions=False) if deal else None
    if kind == "lead":
        lead = lead_get(user=user, company=company, lead_id=record_id)
        return lead_card_blocks(lead, actions=False) if lead else None
    call = call_get(company=company, call_id=record_id)
    return call_card_blocks(call, actions=False) if call else None


def links_unfurl(
    *,
    installation: SlackInstallation,
    slack_user_id: str,
    urls: list[str],
    channel: str = "",
    ts: str = "",
    source: str = "",
    unfurl_id: str = "",
) -> int:
    """Unfold the links of one message the member may see, in one ``chat.unfurl``; how many.

    Raises SlackError when Slack could not take it (the caller may try again later).
    """
    try:
        token = slack_bot_token(installation)
        user = slack_user_resolve(installation=installation, slack_user_id=slack_user_id)
    except SlackLinkError as exc:
        cause = exc.__cause__
        if isinstance(cause, SlackError) and (cause.retry_after is not None or cause.code is None):
            raise cause from exc  # Slack was busy or away: try again rather than drop the cards
        logger.info("slack links of %s not unfurled: %s", slack_user_id, exc)
        return 0
    cards: dict[str, Any] = {}
    for url in dict.fromkeys(urls[:LINKS_MAX]):
        blocks = link_card(url=url, user=user, installation=installation)
        if blocks:
            cards[url] = {"blocks": blocks}
    if not cards:
        return 0
    if source == "composer" and unfurl_id:
        # A link still in the message box: Slack names it by unfurl_id, not by a message.
        unfurl(token=token, source=source, unfurl_id=unfurl_id, unfurls=cards)
    elif channel and ts:
        unfurl(token=token, channel=channel, ts=ts, unfurls=cards)
    else:
        logger.warning("slack links of %s: the event named no message to unfurl", slack_user_id)
        return 0
    return len(cards)
