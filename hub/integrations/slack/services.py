"""Slack installations and user links: register a workspace, find who a Slack user is."""

from __future__ import annotations

import logging
import re
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from hub.domain.authentication.models import Company, User
from hub.domain.authentication.selectors import (
    company_member_is_active,
    member_active_q,
    memberships_active,
)
from hub.domain.crm.access import crm_membership_remember
from hub.domain.emails.crypto import CredentialError, credential_decrypt, credential_encrypt
from hub.integrations.slack.client import (
    SlackError,
    ephemeral_post,
    response_post,
    user_email,
)
from hub.integrations.slack.models import (
    SlackCallRequest,
    SlackEventReceipt,
    SlackInstallation,
    SlackUserLink,
)

logger = logging.getLogger(__name__)

_TEAM_ID = re.compile(r"[TE][A-Z0-9]{2,31}")
#: users.info runs before a command is answered, and Slack waits 3 s for the answer.
LOOKUP_TIMEOUT_SECONDS = 2.0


class SlackLinkError(Exception):
    """The Slack user or workspace cannot act on the hub; ``str()`` tells them why."""


def slack_installation_register(
    *, team_id: str, company: Company, bot_token: str, bot_user_id: str = "", team_name: str = ""
) -> SlackInstallation:
    """Tie a workspace to a company with its bot token (create, or replace what was stored).

    Moving a workspace to another company forgets its user links: they were people of the
    other company.
    """
    if not _TEAM_ID.fullmatch(team_id):
        raise ValidationError({"team_id": f"{team_id!r} is not a Slack team id (T…)."})
    if not bot_token.startswith("xoxb-"):
        raise ValidationError({"bot_token": "A bot token starts with xoxb-."})
    with transaction.atomic():
        installation = SlackInstallation.objects.select_for_update().filter(team_id=team_id).first()
        if installation is None:
            installation = SlackInstallation(team_id=team_id)
        elif installation.company_id != company.pk:
            installation.user_links.all().delete()
            # The alerts channel was the other company's choice.
            installation.alerts_channel_id = installation.alerts_channel_error = ""
        installation.company = company
        installation.bot_token = credential_encrypt(bot_token)
        installation.bot_user_id = bot_user_id
        installation.team_name = team_name or installation.team_name
        installation.is_active = True
        installation.full_clean()
        installation.save()
    return installation


def slack_installation_update(
    *, installation: SlackInstallation, bot_token: str | None = None
) -> SlackInstallation:
    """Save an installation's edited name, bot user id and on/off switch; with ``bot_token``,
    replace the stored token (encrypted). Its workspace and company stay: moving a workspace is
    :func:`slack_installation_register`."""
    if bot_token:
        if not bot_token.startswith("xoxb-"):
            raise ValidationError({"bot_token": "A bot token starts with xoxb-."})
        installation.bot_token = credential_encrypt(bot_token)
    installation.full_clean()
    installation.save()
    return installation


# A web process trusts the installation it found for a workspace for
# ``HUB_SLACK_INSTALLATION_CACHE_SECONDS``. Every Slack request starts with this look-up; a
# change saved through the hub (the console, a command, "Add to Slack") forgets it at once in
# this process (``slack_installations_forget``), and a change made elsewhere (another process,
# the CRM turning a company off) is seen within that many seconds.
_installations: dict[str, tuple[float, SlackInstallation | None]] = {}


def slack_installation_for_team(team_id: str | None) -> SlackInstallation | None:
    """Return the active installation of a workspace whose company is active, or None.

    The same rule as :func:`slack_installation_is_on`, as a filter; the answer is kept for
    ``HUB_SLACK_INSTALLATION_CACHE_SECONDS`` (Bolt's own installation stores cache the same way).
    """
    if not team_id:
        return None
    now = time.monotonic()
    known = _installations.get(team_id)
    if known is not None and now - known[0] < settings.HUB_SLACK_INSTALLATION_CACHE_SECONDS:
        return known[1]
    installation = (
        SlackInstallation.objects.select_related("company")
        .filter(team_id=team_id, is_active=True, company__is_active=True)
        .first()
    )
    _installations[team_id] = (now, installation)
    return installation


def slack_installations_forget(**_signal) -> None:
    """Forget the installations found (an installation or a company was saved or deleted)."""
    _installations.clear()


def slack_installation_get(installation_id: int) -> SlackInstallation | None:
    """Return the installation (on or off) with its company, or None if it is gone."""
    return SlackInstallation.objects.select_related("company").filter(pk=installation_id).first()


def slack_installation_is_on(installation: SlackInstallation) -> bool:
    """Whether the workspace may act on the hub: it is switched on and its company is active."""
    return installation.is_active and installation.company.is_active


def slack_bot_token(installation: SlackInstallation) -> str:
    try:
        return credential_decrypt(installation.bot_token)
    except CredentialError as exc:
        raise SlackLinkError(
            "The hub cannot read this workspace's bot token (EMAIL_ENCRYPTION_KEY changed?); "
            "an admin must register the workspace again."
        ) from exc


def _member(*, company: Company, email: str) -> User | None:
    # One filter() call: the company and the active-member rule bind the same membership.
    return (
        User.objects.filter(
            member_active_q("memberships__"),
            is_active=True,
            memberships__company=company,
            email__iexact=email,
        )
        .order_by("pk")
        .first()
    )


def slack_user_resolve(
    *,
    installation: SlackInstallation,
    slack_user_id: str,
    timeout: float = LOOKUP_TIMEOUT_SECONDS,
) -> User:
    """Return the hub user a Slack user is, in the installation's company, or SlackLinkError.

    A link made earlier is used while its user is still an active member of the company;
    otherwise Slack is asked for the user's e-mail (``users.info``), which must be the e-mail
    of an active member, and the link is stored.
    """
    company = installation.company
    # The linked user, an active member, with their membership: one query, and the
    # membership is kept for the request's permission checks (hub.domain.crm.access).
    membership = (
        memberships_active()
        .select_related("user")
        .filter(
            company=company,
            user__is_active=True,
            user__slack_links__installation=installation,
            user__slack_links__slack_user_id=slack_user_id,
        )
        .order_by("pk")
        .first()
    )
    if membership is not None:
        crm_membership_remember(user=membership.user, membership=membership)
        return membership.user
    try:
        email = user_email(
            token=slack_bot_token(installation),
            slack_user_id=slack_user_id,
            timeout=timeout,
        )
    except SlackError as exc:
        raise SlackLinkError(f"The hub could not look you up in Slack: {exc}.") from exc
    if email is None:
        raise SlackLinkError(
            "Slack did not give the hub your e-mail address (the app needs the "
            "users:read.email scope), so your Slack user cannot be matched to a hub user."
        )
    user = _member(company=company, email=email)
    if user is None:
        raise SlackLinkError(
            f"Your Slack user is not linked to a hub user: no active member of "
            f"{company.company_name} has the e-mail {email}, the address Slack has for you."
        )
    _link_store(installation=installation, slack_user_id=slack_user_id, user=user, email=email)
    return user


def slack_user_link_check(*, installation: SlackInstallation, user: User) -> None:
    """Refuse to link a Slack user to someone who is not an active member of the company."""
    if not company_member_is_active(company_id=installation.company_id, user_id=user.pk):
        raise ValidationError(
            {"user": f"{user.email} is not an active member of {installation.company}."}
        )


def slack_user_link_add(
    *, installation: SlackInstallation, slack_user_id: str, user: User, email: str
) -> SlackUserLink:
    """Link a Slack user of an installed workspace to a member of the workspace's company."""
    return _link_save(
        SlackUserLink(
            installation=installation, slack_user_id=slack_user_id, user=user, email=email
        )
    )


def slack_user_link_update(*, link: SlackUserLink) -> SlackUserLink:
    """Save a link's edited fields with the rules of :func:`slack_user_link_add`."""
    return _link_save(link)


def _link_save(link: SlackUserLink) -> SlackUserLink:
    slack_user_link_check(installation=link.installation, user=link.user)
    link.full_clean()
    link.save()
    return link


def _link_store(
    *, installation: SlackInstallation, slack_user_id: str, user: User, email: str
) -> None:
    try:
        with transaction.atomic():
            SlackUserLink.objects.update_or_create(
                installation=installation,
                slack_user_id=slack_user_id,
                defaults={"user": user, "email": email},
            )
    except IntegrityError:
        pass  # a concurrent request stored the same link first


def slack_call_request_claim(
    *, request_id: str, installation: SlackInstallation, user: User, to_number: str
) -> tuple[SlackCallRequest, bool]:
    """Claim a ``/call`` for this worker; False, with the earlier claim, if it was claimed before.

    A job is claimed before anything else: a second delivery of the same job (the broker gives
    an unacknowledged job again when its worker died) or a second click of the same button
    finds the claim and places nothing. The unique request id decides a race: the second
    insert waits for the first to commit, fails, and the first claim is returned. The
    claim is committed at once (``durable``: never inside a caller's transaction, which would
    keep it from the other worker until after Twilio was asked).
    """
    with transaction.atomic(durable=True):
        request, created = SlackCallRequest.objects.get_or_create(
            request_id=request_id,
            defaults={"installation": installation, "user": user, "to_number": to_number},
        )
    return request, created


def slack_call_request_done(
    *, request: SlackCallRequest, call_id: int | None, outcome: str
) -> None:
    """Record what came of a claimed ``/call``: its call (when one was made) and the answer."""
    request.call_id = call_id
    request.outcome = outcome
    request.save(update_fields=["call", "outcome"])


def slack_command_reply(
    *,
    installation: SlackInstallation | None,
    slack_user_id: str,
    channel_id: str,
    response_url: str,
    text: str,
) -> None:
    """Tell the person through the command's response_url, else with chat.postEphemeral."""
    try:
        response_post(response_url=response_url, text=text)
        return
    except SlackError as exc:
        logger.warning("slack /call: response_url failed (%s); trying chat.postEphemeral", exc)
        if installation is None:
            return
    try:
        token = slack_bot_token(installation)
        ephemeral_post(token=token, channel=channel_id, user=slack_user_id, text=text)
    except (SlackError, SlackLinkError) as exc:
        logger.error("slack /call: could not tell %s: %s (%s)", slack_user_id, text, exc)


def slack_event_claim(*, event_id: str, team_id: str, event_type: str) -> bool:
    """Record an Events API delivery; False if this ``event_id`` was taken before (a retry)."""
    try:
        with transaction.atomic():
            _, created = SlackEventReceipt.objects.get_or_create(
                event_id=event_id[:64], defaults={"team_id": team_id, "event_type": event_type}
            )
    except IntegrityError:
        return False  # a concurrent delivery of the same event took it first
    return created
