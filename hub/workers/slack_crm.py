"""Slack follow-ups of ``/deal``: work too slow for Slack's 3 s (Slack look-ups, more pages).

Each actor takes ids, checks again who asks and what they may do (a job may run minutes after
the click, and the broker may deliver it twice), and answers through the ``response_url`` of the
command or click. Delivered twice, a job changes nothing twice: assigning to the person the deal
is assigned to already is a no-op, pages and cards are read-only.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from django.db import transaction

from hub.bots import crm_messages as msg
from hub.bots.deal_cards import deal_card_blocks, list_page, note_blocks
from hub.domain.authentication.models import User
from hub.domain.crm.access import (
    CrmAccessDenied,
    crm_can_manage,
    crm_manage_check,
    deals_visible,
)
from hub.domain.crm.deal_selectors import deal_get, pipeline_default, pipeline_stages
from hub.domain.crm.services import deal_assign
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


def _rate_limited(retries: int, exc: Exception) -> bool:
    """Try a reply again only when Slack asked to wait (429); anything else would fail again."""
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
            blocks=blocks,
            replace_original=replace_original,
            public=public,
        )
    except SlackError as exc:
        if exc.retry_after:
            raise  # retried by Dramatiq (_rate_limited)
        logger.warning("slack /deal: could not answer at the response URL: %s", exc)


@dramatiq.actor(queue_name=QUEUE, retry_when=_rate_limited, min_backoff=1000, max_backoff=30_000)
def slack_crm_respond(
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
    """Have :func:`slack_crm_respond` answer; if the queue is down, answer now (at most 1 s)."""
    kwargs: dict[str, Any] = {
        "response_url": response_url,
        "text": text,
        "blocks": blocks or None,
        "replace_original": replace_original,
        "public": public,
    }
    try:
        slack_crm_respond.send(**kwargs)
    except Exception:
        logger.exception("slack /deal: could not enqueue a reply; answering at once")
        try:
            response_post(**kwargs, timeout=NOW_TIMEOUT_SECONDS)
        except SlackError as exc:
            logger.warning("slack /deal: could not answer: %s", exc)


def _installation(installation_id: int) -> SlackInstallation | None:
    installation = slack_installation_get(installation_id)
    if installation is None or not slack_installation_is_on(installation):
        logger.info("slack /deal: installation %s is gone or off; job dropped", installation_id)
        return None
    return installation


@dramatiq.actor(queue_name=QUEUE, retry_when=_rate_limited, min_backoff=1000, max_backoff=30_000)
def slack_deal_assign(
    *,
    installation_id: int,
    user_id: int,
    deal_id: int,
    assignee_slack_user_id: str,
    response_url: str,
    replace_original: bool = False,
    public: bool = False,
) -> None:
    """Assign a deal to the member a Slack user is (a mention, or the card's user picker)."""
    installation = _installation(installation_id)
    if installation is None:
        return
    text, blocks = _assign(installation, user_id, deal_id, assignee_slack_user_id)
    replace = replace_original and bool(blocks)
    _post(response_url, text, blocks, replace_original=replace, public=public and replace)


def _assign(
    installation: SlackInstallation, user_id: int, deal_id: int, slack_user_id: str
) -> tuple[str, list[dict[str, Any]]]:
    company = installation.company
    user = User.objects.filter(pk=user_id).first()
    try:
        crm_manage_check(user=user, company=company)
    except CrmAccessDenied as exc:
        return str(exc), []
    assert user is not None  # crm_manage_check refuses no one else
    if deal_get(user=user, company=company, deal_id=deal_id) is None:
        return msg.not_found(deal_id, company.company_name), []
    try:
        assignee = slack_user_resolve(installation=installation, slack_user_id=slack_user_id)
    except SlackLinkError as exc:
        if isinstance(exc.__cause__, SlackError) and exc.__cause__.code != "user_not_found":
            return msg.assignee_lookup_failed(slack_user_id), []
        return msg.assignee_unlinked(slack_user_id, company.company_name), []
    with transaction.atomic():
        # The row is locked while compared: a job delivered twice at once assigns once.
        locked = deals_visible(user=user, company=company).select_for_update()
        deal = locked.filter(pk=deal_id).first()
        if deal is None:  # deleted meanwhile
            return msg.not_found(deal_id, company.company_name), []
        if deal.assigned_to_id == assignee.pk:
            text = msg.already_assigned(deal)
        else:
            deal = deal_assign(deal=deal, assignee=assignee, by=user)
            text = msg.assigned(deal)
    return text, note_blocks(text, deal_card_blocks(deal))


@dramatiq.actor(queue_name=QUEUE, retry_when=_rate_limited, min_backoff=1000, max_backoff=30_000)
def slack_deal_page(
    *,
    installation_id: int,
    slack_user_id: str,
    response_url: str,
    stage_id: int | None,
    mine: bool,
    closing: bool,
    offset: int,
    replace: bool = True,
) -> None:
    """Show another page of ``/deal list``: in place of the one clicked (``replace``), or below
    it, to the member only."""
    installation = _installation(installation_id)
    if installation is None:
        return
    company = installation.company
    try:
        user = slack_user_resolve(installation=installation, slack_user_id=slack_user_id)
    except SlackLinkError as exc:
        _post(response_url, str(exc))
        return
    stage = None
    if stage_id is not None:
        pipeline = pipeline_default(company=company)
        stages = pipeline_stages(pipeline=pipeline) if pipeline else []
        stage = next((s for s in stages if s.pk == stage_id), None)
        if stage is None:
            _post(response_url, msg.FORGED)
            return
    text, blocks = list_page(
        user=user, company=company, stage=stage, mine=mine, closing=closing, offset=offset
    )
    _post(response_url, text, blocks, replace_original=replace and bool(blocks))


@dramatiq.actor(queue_name=QUEUE, retry_when=_rate_limited, min_backoff=1000, max_backoff=30_000)
def slack_deal_created(
    *, installation_id: int, user_id: int, deal_id: int, slack_user_id: str, response_url: str
) -> None:
    """Show the member the deal they created in the form: where they ran ``/deal new``, or in
    a direct message from the bot."""
    installation = _installation(installation_id)
    if installation is None:
        return
    company = installation.company
    user = User.objects.filter(pk=user_id).first()
    deal = deal_get(user=user, company=company, deal_id=deal_id) if user else None
    if user is None or deal is None:
        return
    text = msg.created(deal, user)
    blocks = note_blocks(
        text, deal_card_blocks(deal, actions=crm_can_manage(user=user, company=company))
    )
    if response_url:
        try:
            response_post(response_url=response_url, text=text, blocks=blocks)
            return
        except SlackError as exc:
            logger.info("slack /deal new: response URL failed (%s); sending a DM", exc)
    try:
        token = slack_bot_token(installation)
        channel = dm_open(token=token, slack_user_id=slack_user_id)
        message_post(token=token, channel=channel, text=text, blocks=blocks)
    except SlackLinkError as exc:
        logger.error("slack /deal new: cannot tell %s of deal %s: %s", slack_user_id, deal_id, exc)
    except SlackError as exc:
        if exc.retry_after:
            raise
        logger.error("slack /deal new: cannot tell %s of deal %s: %s", slack_user_id, deal_id, exc)
