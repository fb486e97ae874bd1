"""Slack follow-ups of ``/deal``, and what those of ``/lead`` (``slack_leads.py``) share with
them: work too slow for Slack's 3 s (Slack look-ups, more pages, a card after a form).

Each actor takes ids, checks again who asks and what they may do (a job may run minutes after
the click, and the broker may deliver it twice), and answers through the ``response_url`` of the
command or click (or, after a "New …" form, in a DM when there is none). Delivered twice, a job
changes nothing twice: assigning to the person the record is assigned to already is a no-op,
pages and cards are read-only. Only a 429 is tried again (after a backoff): anything else from
Slack would fail the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dramatiq
from django.db import transaction

from hub.bots import crm_messages as msg
from hub.bots import record_messages as common
from hub.bots.deal_cards import DEALS, list_page
from hub.bots.record_cards import Blocks, Records, note_blocks
from hub.bots.record_messages import R
from hub.domain.authentication.models import Company, User
from hub.domain.crm.access import CrmAccessDenied, crm_can_manage, crm_manage_check
from hub.domain.crm.deal_selectors import pipeline_default, pipeline_stages
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


def rate_limited(retries: int, exc: Exception) -> bool:
    """Try again only when Slack asked to wait (429); anything else would fail again."""
    return retries <= RESPOND_RETRIES and isinstance(exc, SlackError) and bool(exc.retry_after)


#: How every actor of /deal and /lead is declared: on the Slack queue, a 429 tried again.
ACTOR_OPTIONS: dict[str, Any] = {
    "queue_name": QUEUE,
    "retry_when": rate_limited,
    "min_backoff": 1000,
    "max_backoff": 30_000,
}


def post(
    response_url: str,
    text: str,
    blocks: Blocks | None = None,
    *,
    replace_original: bool = False,
    public: bool = False,
) -> None:
    """Answer at a ``response_url``; a 429 is raised, for Dramatiq to try again."""
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
            raise  # tried again by Dramatiq (rate_limited)
        logger.warning("slack crm: could not answer at the response URL: %s", exc)


@dramatiq.actor(**ACTOR_OPTIONS)
def slack_crm_respond(
    *,
    response_url: str,
    text: str,
    blocks: Blocks | None = None,
    replace_original: bool = False,
    public: bool = False,
) -> None:
    """Answer a click (of ``/deal`` or ``/lead``) through its ``response_url``: the refreshed
    card, or why not."""
    post(response_url, text, blocks, replace_original=replace_original, public=public)


def respond_soon(
    *,
    response_url: str,
    text: str,
    blocks: Blocks | None = None,
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
        logger.exception("slack crm: could not enqueue a reply; answering at once")
        try:
            response_post(**kwargs, timeout=NOW_TIMEOUT_SECONDS)
        except SlackError as exc:
            logger.warning("slack crm: could not answer: %s", exc)


def installation_on(installation_id: int) -> SlackInstallation | None:
    """The workspace a job is for, unless it is gone or switched off meanwhile."""
    installation = slack_installation_get(installation_id)
    if installation is None or not slack_installation_is_on(installation):
        logger.info("slack crm: installation %s is gone or off; job dropped", installation_id)
        return None
    return installation


# -- assigning to a Slack user -----------------------------------------------------------------


def assign_actor(
    records: Records[Any], actor_name: str, *, lookup_retried: bool = True
) -> dramatiq.Actor[..., None]:
    """Declare the actor that assigns one of ``records`` to the member a Slack user is (a
    mention, or the card's user picker) and says so: in place of the card clicked
    (``replace_original``) when it changed. It takes the record's id as ``<kind>_id``
    (``deal_id=42``). With ``lookup_retried``, a users.info answered 429 is tried again;
    without, the member is told at once that the look-up failed."""
    id_name = f"{records.words.kind}_id"

    def assign(
        *,
        installation_id: int,
        user_id: int,
        assignee_slack_user_id: str,
        response_url: str,
        replace_original: bool = False,
        public: bool = False,
        **record: int,
    ) -> None:
        installation = installation_on(installation_id)
        if installation is None:
            return
        text, blocks = _assign(
            records, installation, user_id, record[id_name], assignee_slack_user_id, lookup_retried
        )
        replace = replace_original and bool(blocks)
        post(response_url, text, blocks, replace_original=replace, public=public and replace)

    return dramatiq.actor(assign, actor_name=actor_name, **ACTOR_OPTIONS)


def _assign(
    records: Records[R],
    installation: SlackInstallation,
    user_id: int,
    record_id: int,
    slack_user_id: str,
    lookup_retried: bool,
) -> tuple[str, Blocks]:
    company = installation.company
    words = records.words
    user = User.objects.filter(pk=user_id).first()
    try:
        crm_manage_check(user=user, company=company)
    except CrmAccessDenied as exc:
        return str(exc), []
    assert user is not None  # crm_manage_check refuses no one else
    if records.get(user, company, record_id) is None:
        return words.not_found(record_id, company.company_name), []
    try:
        assignee = slack_user_resolve(installation=installation, slack_user_id=slack_user_id)
    except SlackLinkError as exc:
        cause = exc.__cause__
        if lookup_retried and isinstance(cause, SlackError) and cause.retry_after:
            raise cause from exc  # rate-limited: the job is tried again
        if isinstance(cause, SlackError) and cause.code != "user_not_found":
            return common.assignee_lookup_failed(slack_user_id), []
        return words.assignee_unlinked(slack_user_id, company.company_name), []
    with transaction.atomic():
        # The row is locked while compared: a job delivered twice at once assigns once.
        locked = records.visible(user, company).select_for_update().filter(pk=record_id).first()
        if locked is None:  # deleted meanwhile
            return words.not_found(record_id, company.company_name), []
        if locked.assigned_to_id == assignee.pk:
            text = words.already_assigned(locked)
        else:
            locked = records.assign(locked, assignee, user)
            text = words.assigned(locked)
    return text, note_blocks(text, records.card(locked, True))


# -- a record made in a form -------------------------------------------------------------------


def created_actor(records: Records[Any], actor_name: str) -> dramatiq.Actor[..., None]:
    """Declare the actor that shows the member the record they made in the form: where they
    ran the command, or in a direct message from the bot. It takes the record's id as
    ``<kind>_id`` (``lead_id=7``)."""
    id_name = f"{records.words.kind}_id"

    def created(
        *, installation_id: int, user_id: int, slack_user_id: str, response_url: str, **record: int
    ) -> None:
        installation = installation_on(installation_id)
        user = User.objects.filter(pk=user_id).first()
        if installation is None or user is None:
            return
        found = records.get(user, installation.company, record[id_name])
        if found is not None:
            _created_tell(records, installation, user, found, slack_user_id, response_url)

    return dramatiq.actor(created, actor_name=actor_name, **ACTOR_OPTIONS)


def _created_tell(
    records: Records[R],
    installation: SlackInstallation,
    user: User,
    record: R,
    slack_user_id: str,
    response_url: str,
) -> None:
    text = records.words.created(record, user)
    can = crm_can_manage(user=user, company=installation.company)
    blocks = note_blocks(text, records.card(record, can))
    what = f"{records.words.kind} {record.pk}"
    if response_url:
        try:
            response_post(response_url=response_url, text=text, blocks=blocks)
            return
        except SlackError as exc:
            logger.info("slack %s: response URL failed (%s); sending a DM", what, exc)
    try:
        token = slack_bot_token(installation)
        channel = dm_open(token=token, slack_user_id=slack_user_id)
        message_post(token=token, channel=channel, text=text, blocks=blocks)
    except SlackLinkError as exc:
        logger.error("slack %s: cannot tell %s of it: %s", what, slack_user_id, exc)
    except SlackError as exc:
        if exc.retry_after:
            raise
        logger.error("slack %s: cannot tell %s of it: %s", what, slack_user_id, exc)


# -- another page of a list --------------------------------------------------------------------


def page_actor(
    actor_name: str, page: Callable[..., tuple[str, Blocks]]
) -> dramatiq.Actor[..., None]:
    """Declare the actor that shows another page of a list, ``page(user=, company=, **wanted)``
    (``wanted``: what the page button asked for): in place of the page clicked (``replace``;
    ``public`` if that one is in the channel), or below it, to the member only."""

    def show(
        *,
        installation_id: int,
        slack_user_id: str,
        response_url: str,
        replace: bool = True,
        public: bool = False,
        **wanted: Any,
    ) -> None:
        installation = installation_on(installation_id)
        if installation is None:
            return
        try:
            user = slack_user_resolve(installation=installation, slack_user_id=slack_user_id)
        except SlackLinkError as exc:
            post(response_url, str(exc))
            return
        text, blocks = page(user=user, company=installation.company, **wanted)
        post(response_url, text, blocks, replace_original=replace and bool(blocks), public=public)

    return dramatiq.actor(show, actor_name=actor_name, **ACTOR_OPTIONS)


# -- /deal -------------------------------------------------------------------------------------


def _deal_page(
    *, user: User, company: Company, stage_id: int | None, mine: bool, closing: bool, offset: int
) -> tuple[str, Blocks]:
    """A page of ``/deal list``; the stage it lists, named by its id, is looked up again."""
    stage = None
    if stage_id is not None:
        pipeline = pipeline_default(company=company)
        stages = pipeline_stages(pipeline=pipeline) if pipeline else []
        stage = next((s for s in stages if s.pk == stage_id), None)
        if stage is None:
            return msg.WORDS.forged, []
    return list_page(
        user=user, company=company, stage=stage, mine=mine, closing=closing, offset=offset
    )


slack_deal_assign = assign_actor(DEALS, "slack_deal_assign", lookup_retried=False)
slack_deal_page = page_actor("slack_deal_page", _deal_page)
slack_deal_created = created_actor(DEALS, "slack_deal_created")
