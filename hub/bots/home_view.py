"""App Home: what a member sees on the app's Home tab, built and published by a worker.

The member's open deals, the pipeline of the deals they may see, today's calls and the calls
they missed; a Slack user who is not a member sees how to get linked. Every read goes through
the selectors' visibility rules (``deal_list``, ``pipeline_summary``, ``calls_for_member``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.utils import timezone

from hub.bots.call_cards import call_back_button, call_line, call_missed
from hub.bots.crm_text import escape, money
from hub.bots.deal_cards import deal_line
from hub.domain.authentication.models import Company, User
from hub.domain.calls.selectors import calls_for_member, company_today
from hub.domain.crm.deal_selectors import PipelineSummary, deal_list, pipeline_summary
from hub.integrations.slack.client import SlackError, view_publish
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import SlackLinkError, slack_bot_token, slack_user_resolve

logger = logging.getLogger(__name__)

REFRESH_ACTION = "home_refresh"
DEALS_SHOWN = 10
CALLS_SHOWN = 10
MISSED_DAYS = 7


def _text(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _text(text[:3000])}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_text(text[:3000])]}


def _refresh_button(label: str = "Refresh") -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": REFRESH_ACTION,
        "text": {"type": "plain_text", "text": label},
        "value": "home",
    }


def _more(shown: int, total: int, hint: str) -> list[dict[str, Any]]:
    return [_context(f"{total - shown} more: {hint}")] if total > shown else []


def _deals(*, user: User, company: Company) -> list[dict[str, Any]]:
    page = deal_list(user=user, company=company, mine=True, limit=DEALS_SHOWN)
    blocks = [_header(f"Your open deals ({page.total})")]
    if not page.deals:
        return [*blocks, _context("No open deals are assigned to you.")]
    blocks += [_section(deal_line(deal)) for deal in page.deals]
    return blocks + _more(len(page.deals), page.total, "`/deal list mine` shows them all.")


def _stage_lines(summary: PipelineSummary) -> str:
    cur = summary.currency
    return "\n".join(
        f"• {escape(total.stage.name, 40)}: {total.count} · {money(total.total, cur)} "
        f"(weighted {money(total.weighted, cur)})"
        for total in summary.stages
    )


def _pipeline(*, user: User, company: Company) -> list[dict[str, Any]]:
    summary = pipeline_summary(user=user, company=company)
    if summary.pipeline is None:
        return [_header("Pipeline"), _context("Your company has no active pipeline.")]
    cur = summary.currency
    blocks = [
        _header(f"Pipeline: {summary.pipeline.name}"),
        _section(
            f"*{summary.count}* open deals you may see · *{money(summary.total, cur)}* · "
            f"weighted *{money(summary.weighted, cur)}*"
        ),
    ]
    if summary.stages:
        blocks.append(_section(_stage_lines(summary)))
    if summary.other_currencies:
        others = ", ".join(money(amount, code) for code, amount in summary.other_currencies.items())
        blocks.append(_context(f"Not in the totals (other currencies): {others}."))
    return blocks


def _calls(*, user: User, company: Company) -> list[dict[str, Any]]:
    today = company_today(company=company)
    page = calls_for_member(user=user, company=company, day=today, limit=CALLS_SHOWN)
    blocks = [_header(f"Today's calls ({page.total})")]
    if not page.calls:
        blocks.append(_context("No calls today placed by you or to your numbers."))
    blocks += [_section(call_line(call)) for call in page.calls]
    blocks += _more(len(page.calls), page.total, "`/call list` shows up to 20.")
    missed = calls_for_member(
        user=user,
        company=company,
        since=today - timedelta(days=MISSED_DAYS - 1),
        missed=True,
        limit=CALLS_SHOWN,
    )
    blocks.append(_header(f"Missed calls, last {MISSED_DAYS} days ({missed.total})"))
    if not missed.calls:
        blocks.append(_context("No missed calls. 🎉"))
    for call in missed.calls:
        block = _section(call_line(call))
        if call_missed(call):
            block["accessory"] = call_back_button(call)
        blocks.append(block)
    return blocks + _more(len(missed.calls), missed.total, "`/call list missed` shows up to 20.")


def home_view(*, user: User, company: Company) -> dict[str, Any]:
    """The Home tab of a member of ``company``."""
    name = escape(user.get_full_name().strip() or user.email, 60)
    now = timezone.now()
    updated = f"<!date^{int(now.timestamp())}^Updated {{date_short_pretty}} {{time}}|Updated>"
    top: dict[str, Any] = _section(f"*{name}* · {escape(company.company_name, 60)}\n{updated}")
    top["accessory"] = _refresh_button()
    blocks: list[dict[str, Any]] = [top, {"type": "divider"}]
    for part in (_deals, _pipeline, _calls):
        blocks += part(user=user, company=company)
        blocks.append({"type": "divider"})
    return {"type": "home", "blocks": blocks[:-1][:100]}


def home_unlinked_view(*, reason: str, company: Company) -> dict[str, Any]:
    """The Home tab of a Slack user the hub cannot tie to a member: why, and what to do."""
    company_name = escape(company.company_name, 60)
    top = _section(
        f"*Your Slack user is not linked to the hub yet.*\n{escape(reason, 500)}\n\n"
        f"*How to get linked:* the e-mail address of your Slack profile must be that of an "
        f"active member of {company_name} on the hub. Ask an admin of {company_name} to add "
        "you with that address (or to link your Slack user in the console, under Slack user "
        "links), then come back here and refresh."
    )
    actions = {"type": "actions", "elements": [_refresh_button("Try again")]}
    return {"type": "home", "blocks": [_header("Welcome to the hub"), top, actions]}


def home_publish(*, installation: SlackInstallation, slack_user_id: str) -> None:
    """Build and publish a Slack user's Home tab.

    Raises SlackError when Slack could not take it (a 429 or an unreachable Slack: the caller
    tries again later), also when Slack was too busy to say who the user is.
    """
    try:
        token = slack_bot_token(installation)
    except SlackLinkError as exc:
        logger.error("slack App Home for %s not published: %s", slack_user_id, exc)
        return
    company = installation.company
    try:
        user = slack_user_resolve(installation=installation, slack_user_id=slack_user_id)
    except SlackLinkError as exc:
        cause = exc.__cause__
        if isinstance(cause, SlackError) and (cause.retry_after is not None or cause.code is None):
            raise cause from exc  # Slack was busy or away: not a reason to say "not linked"
        view = home_unlinked_view(reason=str(exc), company=company)
    else:
        view = home_view(user=user, company=company)
    view_publish(token=token, slack_user_id=slack_user_id, view=view)
