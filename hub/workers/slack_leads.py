"""Slack follow-ups of ``/lead``: work too slow for Slack's 3 s (Slack look-ups, more pages).

Each actor takes ids, checks again who asks and what they may do (a job may run minutes after
the click, and the broker may deliver it twice), and answers through the ``response_url`` of the
command or click (or, after the new-lead form, in a DM when there is none). Delivered twice, a
job changes nothing twice: assigning to the person the lead is assigned to already is a no-op,
pages and cards are read-only. Only a 429 is tried again (after a backoff): anything else from
Slack would fail the same way.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from django.db import transaction

from hub.bots import lead_messages as msg
from hub.bots.lead_cards import PAGE_SIZE, lead_card_blocks, list_blocks, note_blocks
from hub.domain.authentication.models import User
from hub.domain.crm.access import CrmAccessDenied, crm_can_manage, crm_manage_check, leads_visible
from hub.domain.crm.deal_selectors import lead_get, lead_list
from hub.domain.crm.services import lead_assign
from hub.integrations.slack.client import SlackError, dm_open, message_post, response_post
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import (
    SlackLinkError,
    slack_bot_token,
    slack_installation_get,
    slack_installation_is_on,
    slack_user_resolve,
)

logger = logging.getLogger(__name__)

QUEUE = "slack"
RESPOND_RETRIES = 3
#: A reply made in a listener (the queue down) must leave time for Slack's 3 s.
NOW_TIMEOUT_SECONDS = 1.0
MIN_BACKOFF_MS, MAX_BACKOFF_MS = 1000, 30_000


def _rate_limited(retries: int, exc: Exception) -> bool:
    """Try again only when Slack asked to wait (429)."""
    return retries <= RESPOND_RETRIES and isinstance(exc, SlackError) and bool(exc.retry_after)


def _post(
    response_url: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    *,
    replace_original: bool = False,
    public: bool = False,
) -> None:
    try:
        response_post(
            response_url=response_url,
            text=text,
            blocks=blocks or None,
            replace_original=replace_original,
            public=public,
        )
    except SlackError as exc:
        if exc.retry_after:
            raise  # tried again by Dramatiq (_rate_limited)
        logger.warning("slack /lead: could not answer at the response URL: %s", exc)


@dramatiq.actor(
    queue_name=QUEUE,
    retry_when=_rate_limited,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
)
def slack_lead_respond(
    *,
    response_url: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    replace_original: bool = False,
    public: bool = False,
) -> None:
    """Answer a click through its ``response_url``: the refreshed card, or why not."""
    _post(response_url, text, blocks, replace_original=replace_original, public=public)


def respond_soon(
    *,
    response_url: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    replace_original: bool = False,
    public: bool = False,
) -> None:
    """Have :func:`slack_lead_respond` answer; if the queue is down, answer now (at most 1 s)."""
    kwargs: dict[str, Any] = {
        "response_url": response_url,
        "text": text,
        "blocks": blocks or None,
        "replace_original": replace_original,
        "public": public,
    }
    try:
        slack_lead_respond.send(**kwargs)
    except Exception:
        logger.exception("slack /lead: could not enqueue a reply; answering at once")
        try:
            response_post(**kwargs, timeout=NOW_TIMEOUT_SECONDS)
        except SlackError as exc:
            logger.warning("slack /lead: could not answer: %s", exc)


def _installation(installation_id: int) -> SlackInstallation | None:
    installation = slack_installation_get(installation_id)
    if installation is None or not slack_installation_is_on(installation):
        logger.info("slack /lead: installation %s is gone or off; job dropped", installation_id)
        return None
    return installation


@dramatiq.actor(
    queue_name=QUEUE,
    retry_when=_rate_limited,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
)
def slack_lead_assign(
    *,
    installation_id: int,
    user_id: int,
    lead_id: int,
    assignee_slack_user_id: str,
    response_url: str,
    replace_original: bool = False,
    public: bool = False,
) -> None:
    """Assign a lead to the member a Slack user is (a mention, or the card's user picker)."""
    installation = _installation(installation_id)
    if installation is None:
        return
    text, blocks = _assign(installation, user_id, lead_id, assignee_slack_user_id)
    replace = replace_original and bool(blocks)
    _post(response_url, text, blocks, replace_original=replace, public=public and replace)


def _assign(
    installation: SlackInstallation, user_id: int, lead_id: int, slack_user_id: str
) -> tuple[str, list[dict[str, Any]]]:
    company = installation.company
    user = User.objects.filter(pk=user_id).first()
    try:
        crm_manage_check(user=user, company=company)
    except CrmAccessDenied as exc:
        return str(exc), []
    assert user is not None  # crm_manage_check refuses no one else
    if lead_get(user=user, company=company, lead_id=lead_id) is None:
        return msg.not_found(lead_id, company.company_name), []
    try:
        assignee = slack_user_resolve(installation=installation, slack_user_id=slack_user_id)
    except SlackLinkError as exc:
        cause = exc.__cause__
        if isinstance(cause, SlackError) and cause.retry_after:
            raise cause from exc  # rate-limited: the job is tried again
        if isinstance(cause, SlackError) and cause.code != "user_not_found":
            return msg.assignee_lookup_failed(slack_user_id), []
        return msg.assignee_unlinked(slack_user_id, company.company_name), []
    with transaction.atomic():
        # The row is locked while compared: a job delivered twice at once assigns once.
        lead = leads_visible(user=user, company=company).select_for_update().filter(pk=lead_id)
        locked = lead.first()
        if locked is None:  # deleted meanwhile
            return msg.not_found(lead_id, company.company_name), []
        if locked.assigned_to_id == assignee.pk:
            text = msg.already_assigned(locked)
        else:
            locked = lead_assign(lead=locked, assignee=assignee, by=user)
            text = msg.assigned(locked)
    return text, note_blocks(text, lead_card_blocks(locked))


@dramatiq.actor(
    queue_name=QUEUE,
    retry_when=_rate_limited,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
)
def slack_lead_page(
    *,
    installation_id: int,
    slack_user_id: str,
    response_url: str,
    status: str | None,
    mine: bool,
    offset: int,
    public: bool = False,
) -> None:
    """Show another page of ``/lead list`` in place of the one clicked."""
    installation = _installation(installation_id)
    if installation is None:
        return
    company = installation.company
    try:
        user = slack_user_resolve(installation=installation, slack_user_id=slack_user_id)
    except SlackLinkError as exc:
        _post(response_url, str(exc))
        return
    page = lead_list(
        user=user, company=company, status=status, mine=mine, limit=PAGE_SIZE, offset=offset
    )
    text, blocks = list_blocks(
        page.leads, total=page.total, offset=offset, status=status, mine=mine
    )
    _post(response_url, text, blocks, replace_original=True, public=public)


@dramatiq.actor(
    queue_name=QUEUE,
    retry_when=_rate_limited,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
)
def slack_lead_created(
    *, installation_id: int, user_id: int, lead_id: int, slack_user_id: str, response_url: str
) -> None:
    """Show the member the lead they created in the form: where they ran ``/lead new``, or in a
    direct message from the bot."""
    installation = _installation(installation_id)
    if installation is None:
        return
    company = installation.company
    user = User.objects.filter(pk=user_id).first()
    lead = lead_get(user=user, company=company, lead_id=lead_id) if user else None
    if user is None or lead is None:
        return
    text = msg.created(lead, user)
    can = crm_can_manage(user=user, company=company)
    blocks = note_blocks(text, lead_card_blocks(lead, actions=can))
    if response_url:
        try:
            response_post(response_url=response_url, text=text, blocks=blocks)
            return
        except SlackError as exc:
            logger.info("slack /lead new: response URL failed (%s); sending a DM", exc)
    try:
        token = slack_bot_token(installation)
        channel = dm_open(token=token, slack_user_id=slack_user_id)
        message_post(token=token, channel=channel, text=text, blocks=blocks)
    except SlackLinkError as exc:
        logger.error("slack /lead new: cannot tell %s of lead %s: %s", slack_user_id, lead_id, exc)
    except SlackError as exc:
        if exc.retry_after:
            raise
        logger.error("slack /lead new: cannot tell %s of lead %s: %s", slack_user_id, lead_id, exc)
