"""“Add to Slack”: the OAuth v2 install of the hub's app into a workspace, for one company.

slack_sdk's two stores on the hub's own tables. :class:`HubOAuthStateStore`
(``hub_slack_oauth_state``) issues the ``state`` of an install bound to the signed-in user and
the company they chose; it is taken once, by that user, within
``SLACK_OAUTH_STATE_TTL_SECONDS``. :class:`HubInstallationStore` (``hub_slack_installation``)
saves an install through :func:`slack_installation_register`, which stores the bot token
encrypted, and finds workspaces' bots again.

Only an active CEO or manager of a company may connect a workspace to it; a workspace serves
one company, so an Enterprise Grid org-wide install is refused.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from slack_sdk.oauth.authorize_url_generator import AuthorizeUrlGenerator
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore

from hub.domain.authentication.models import Company, Role, User
from hub.domain.authentication.selectors import company_member_is_active, memberships_active
from hub.integrations.slack.client import SlackError, oauth_access
from hub.integrations.slack.models import SlackInstallation, SlackOAuthState
from hub.integrations.slack.services import (
    SlackLinkError,
    slack_bot_token,
    slack_installation_for_team,
    slack_installation_register,
    slack_installation_update,
)

logger = logging.getLogger(__name__)

#: What the app's features need of a workspace, and no more (slack/manifest.yml lists the same).
BOT_SCOPES: tuple[str, ...] = (
    "commands",  # /call, /deal, /lead
    "chat:write",  # answers, the alerts channel, DMs
    "im:write",  # conversations.open: the DM a member's alerts go to
    "users:read",  # users.info: who a Slack user is
    "users:read.email",  # ... matched to a hub user by e-mail
    "links:read",  # link_shared: links to the console's pages
    "links:write",  # chat.unfurl: their cards
)
#: The roles that may connect a workspace to their company (and move one to it).
INSTALL_ROLES: tuple[str, ...] = (Role.CEO, Role.MANAGER)
#: The kind of token an install gives (Slack's ``token_type``).
BOT_TOKEN_TYPE = "bot"  # noqa: S105 (a kind of token, not one)
_STATE = re.compile(r"[A-Za-z0-9_-]{32,128}")
# Slack's codes are dotted hex; anything printable and short is passed on for Slack to judge.
_CODE = re.compile(r"[!-~]{1,512}")


class OAuthError(Exception):
    """An install that cannot go on; ``str()`` tells the person why."""


class OAuthStateError(OAuthError):
    """The ``state`` Slack handed back is not one this user may take (forged, old, used)."""


class OAuthDenied(OAuthError):
    """The person may not connect a workspace to that company."""


class OAuthRefused(OAuthError):
    """Slack's answer is an install the hub does not take (org-wide, token rotation…)."""


class OAuthExchangeError(OAuthError):
    """Slack did not exchange the code; ``code`` is its error string, when it gave one."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class InstallResult:
    installation: SlackInstallation
    company: Company
    created: bool
    #: The workspace served another company until now.
    moved: bool
    #: That company's name, when the installer is one of its members (else not told).
    moved_from_name: str = ""


def slack_oauth_missing_settings() -> list[str]:
    """The settings "Add to Slack" needs and lacks (none: it is on)."""
    names = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "HUB_PUBLIC_URL")
    return [name for name in names if not getattr(settings, name, None)]


def slack_oauth_redirect_uri() -> str:
    return f"{settings.HUB_PUBLIC_URL}{reverse('slack:oauth_redirect')}"


def slack_authorize_url(*, state: str) -> str:
    """Slack's authorize page for this install: the app's client id, scopes and redirect."""
    generator = AuthorizeUrlGenerator(
        client_id=settings.SLACK_CLIENT_ID,
        redirect_uri=slack_oauth_redirect_uri(),
        scopes=list(BOT_SCOPES),
        authorization_url=settings.SLACK_AUTHORIZE_URL,
    )
    return generator.generate(state)


def slack_install_companies(*, user: User) -> QuerySet[Company]:
    """The active companies where the user is an active CEO or manager, by name."""
    if not user.is_active:
        return Company.objects.none()
    memberships = memberships_active().filter(user_id=user.pk, role__in=INSTALL_ROLES)
    return Company.objects.filter(pk__in=memberships.values("company_id")).order_by(
        "company_name", "pk"
    )


def slack_installations_of(*, companies: list[Company]) -> dict[int, list[SlackInstallation]]:
    """The active installations of each of these companies, by company id."""
    found: dict[int, list[SlackInstallation]] = {company.pk: [] for company in companies}
    rows = SlackInstallation.objects.filter(company__in=companies, is_active=True).order_by(
        "team_name", "team_id"
    )
    for row in rows:
        found[row.company_id].append(row)
    return found


# --- the state ------------------------------------------------------------------------------
def slack_oauth_state_issue(*, user: User, company: Company) -> str:
    """Start an install: a fresh ``state`` for this user and company (the caller checked them)."""
    state = secrets.token_urlsafe(32)
    SlackOAuthState.objects.create(state=state, user=user, company=company)
    return state


def slack_oauth_state_take(*, state: str, user: User) -> Company:
    """Take an install's ``state`` once, for the user it was issued to; return its company.

    A state that is malformed, unknown, another user's, used or older than
    ``SLACK_OAUTH_STATE_TTL_SECONDS`` raises :class:`OAuthStateError` saying which (another
    user's is left as it is: it is theirs to finish).
    """
    if not _STATE.fullmatch(state or ""):
        raise OAuthStateError(
            "Slack came back without a valid install state, so nothing was connected. "
            "Start again from “Add to Slack”."
        )
    row = SlackOAuthState.objects.select_related("company").filter(state=state).first()
    if row is None:
        raise OAuthStateError(
            "This install link is not one the hub issued, so nothing was connected. "
            "Start again from “Add to Slack”."
        )
    if row.user_id != user.pk:
        raise OAuthStateError(
            "This install was started by another hub user, so it cannot be finished in your "
            "session; nothing was connected. Start your own from “Add to Slack”."
        )
    if row.used_at is not None:
        raise OAuthStateError(
            "This install link was used already (each works once), so nothing more was done. "
            "If you just added the workspace, it is connected: see the console."
        )
    oldest = timezone.now() - timedelta(seconds=settings.SLACK_OAUTH_STATE_TTL_SECONDS)
    if row.created_at < oldest:
        raise OAuthStateError(
            f"This install link expired (it works for {_duration(settings.SLACK_OAUTH_STATE_TTL_SECONDS)}), "
            "so nothing was connected. Start again from “Add to Slack”."
        )
    taken = SlackOAuthState.objects.filter(
        pk=row.pk, used_at__isnull=True, created_at__gte=oldest
    ).update(used_at=timezone.now())
    if not taken:  # the same redirect, twice at once: the other request took it
        raise OAuthStateError("This install link was used already, so nothing more was done.")
    return row.company


def _duration(seconds: int) -> str:
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} seconds"


class HubOAuthStateStore(OAuthStateStore):
    """slack_sdk's state store on ``hub_slack_oauth_state``, for one signed-in user.

    ``issue()`` needs the company the install is for; ``consume(state)`` is true only for a
    state this user was issued, unused and fresh (and uses it up).
    """

    def __init__(self, *, user: User, company: Company | None = None) -> None:
        self.user, self.company = user, company

    @property
    def logger(self) -> logging.Logger:
        return logger

    def issue(self, *args: Any, **kwargs: Any) -> str:
        if self.company is None:
            raise ValueError("an install state is issued for a company: pass company=")
        return slack_oauth_state_issue(user=self.user, company=self.company)

    def consume(self, state: str) -> bool:
        try:
            slack_oauth_state_take(state=state, user=self.user)
        except OAuthStateError as exc:
            logger.info("slack install state refused: %s", exc)
            return False
        return True


# --- the code and Slack's answer ------------------------------------------------------------
def slack_oauth_exchange(*, code: str) -> Installation:
    """Exchange the install's ``code`` (``oauth.v2.access``) for a workspace's bot install."""
    if not _CODE.fullmatch(code or ""):
        raise OAuthRefused("Slack came back without an install code, so nothing was connected.")
    try:
        answer = oauth_access(
            client_id=settings.SLACK_CLIENT_ID,
            client_secret=settings.SLACK_CLIENT_SECRET or "",
            code=code,
            redirect_uri=slack_oauth_redirect_uri(),
        )
    except SlackError as exc:
        raise OAuthExchangeError(
            f"Slack did not complete the install ({exc.code or exc}); nothing was connected. "
            "Try “Add to Slack” again; if it keeps failing, check SLACK_CLIENT_ID and "
            "SLACK_CLIENT_SECRET against the app's Basic Information page.",
            code=exc.code,
        ) from exc
    return _installation(answer)


def _installation(answer: dict[str, Any]) -> Installation:
    """Slack's ``oauth.v2.access`` answer as slack_sdk's Installation, if the hub takes it."""
    team, enterprise = _object(answer.get("team")), _object(answer.get("enterprise"))
    if answer.get("is_enterprise_install"):
        raise OAuthRefused(
            "The app was installed for a whole Enterprise Grid organization. The hub connects "
            "one workspace to one company: install it into a single workspace instead (and "
            "remove the org-wide install in Slack's admin pages)."
        )
    if not team.get("id"):
        raise OAuthRefused("Slack's answer named no workspace, so nothing was connected.")
    if answer.get("refresh_token") or answer.get("expires_in"):
        raise OAuthRefused(
            "The app has token rotation turned on, and the hub keeps no refresh token: turn it "
            "off (OAuth & Permissions → Advanced token security) and add the app again."
        )
    token = str(answer.get("access_token") or "")
    if answer.get("token_type", BOT_TOKEN_TYPE) != BOT_TOKEN_TYPE or not token.startswith("xoxb-"):
        raise OAuthRefused("Slack gave the hub no bot token, so nothing was connected.")
    return Installation(
        app_id=_text(answer.get("app_id")),
        enterprise_id=_text(enterprise.get("id")),
        enterprise_name=_text(enterprise.get("name")),
        team_id=_text(team.get("id")),
        team_name=_text(team.get("name"), 255),
        bot_token=token,
        bot_id=_text(answer.get("bot_id")),
        bot_user_id=_text(answer.get("bot_user_id")),
        bot_scopes=_text(answer.get("scope"), 2000) or "",
        user_id=_text(_object(answer.get("authed_user")).get("id")) or "",
        is_enterprise_install=False,
        token_type=BOT_TOKEN_TYPE,
    )


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object, limit: int = 32) -> str | None:
    """A string field of Slack's answer, cut to what the table holds; None when absent."""
    return str(value)[:limit] if isinstance(value, str | int) and str(value) else None


# --- the installation -----------------------------------------------------------------------
def slack_oauth_install(
    *, installation: Installation, company: Company, installed_by: User | None
) -> InstallResult:
    """Connect an installed workspace to ``company`` with its bot token (stored encrypted).

    A workspace connected to another company moves, as with ``slack_install``: its user links
    are forgotten, and so is its alerts channel (the other company's choice).
    """
    try:
        with transaction.atomic():
            before = (
                SlackInstallation.objects.select_for_update(of=("self",))
                .select_related("company")
                .filter(team_id=installation.team_id or "")
                .first()
            )
            row = slack_installation_register(
                team_id=installation.team_id or "",
                company=company,
                bot_token=installation.bot_token or "",
                bot_user_id=installation.bot_user_id or "",
                team_name=installation.team_name or "",
            )
            moved = before is not None and before.company_id != company.pk
            row.app_id = installation.app_id or ""
            row.enterprise_id = installation.enterprise_id or ""
            row.bot_scopes = ",".join(installation.bot_scopes or ())
            row.installed_by = installed_by
            row.installer_slack_user_id = installation.user_id or ""
            if moved:
                row.alerts_channel_id = row.alerts_channel_error = ""
            slack_installation_update(installation=row)
    except ValidationError as exc:
        raise OAuthRefused(
            "Slack's answer could not be stored (" + " ".join(exc.messages) + "); nothing was "
            "connected."
        ) from exc
    moved_from_name = ""
    if (
        before is not None
        and moved
        and installed_by is not None
        and company_member_is_active(company_id=before.company_id, user_id=installed_by.pk)
    ):
        moved_from_name = before.company.company_name
    return InstallResult(
        installation=row,
        company=company,
        created=before is None,
        moved=moved,
        moved_from_name=moved_from_name,
    )


def slack_oauth_complete(*, user: User, state: str, code: str) -> InstallResult:
    """Finish an install Slack redirected back: take the state, check the installer may still
    connect a workspace to its company, exchange the code, store the workspace."""
    company = slack_oauth_state_take(state=state, user=user)
    if not slack_install_companies(user=user).filter(pk=company.pk).exists():
        raise OAuthDenied(
            f"You are no longer the CEO or a manager of {company.company_name}, so the "
            "workspace was not connected to it."
        )
    installation = slack_oauth_exchange(code=code)
    return slack_oauth_install(installation=installation, company=company, installed_by=user)


def slack_oauth_cancel(*, user: User, state: str) -> None:
    """Use up the state of an install the person cancelled in Slack (if it is theirs)."""
    # Nothing to use up otherwise: the page says the same either way.
    with contextlib.suppress(OAuthStateError):
        slack_oauth_state_take(state=state, user=user)


class HubInstallationStore(InstallationStore):
    """slack_sdk's installation store on ``hub_slack_installation`` (bot installs only).

    ``save`` needs the company the workspace is to serve (and who installed it); the finds
    and deletes work on any workspace.
    """

    def __init__(self, *, company: Company | None = None, installed_by: User | None = None):
        self.company, self.installed_by = company, installed_by

    @property
    def logger(self) -> logging.Logger:
        return logger

    def save(self, installation: Installation) -> None:
        if self.company is None:
            raise ValueError("a workspace is saved for a company: pass company=")
        slack_oauth_install(
            installation=installation, company=self.company, installed_by=self.installed_by
        )

    def save_bot(self, bot: Bot) -> None:
        raise NotImplementedError("the hub saves whole installs: use save()")

    def find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        installation = self.find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        return installation.to_bot() if installation is not None else None

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        row = slack_installation_for_team(team_id)
        if row is None or is_enterprise_install:
            return None
        try:
            token = slack_bot_token(row)
        except SlackLinkError:
            logger.error("slack workspace %s: its bot token cannot be read", row.team_id)
            return None
        return Installation(
            app_id=row.app_id or None,
            enterprise_id=row.enterprise_id or None,
            team_id=row.team_id,
            team_name=row.team_name or None,
            bot_token=token,
            bot_id=None,
            bot_user_id=row.bot_user_id or None,
            bot_scopes=row.bot_scopes,
            user_id=row.installer_slack_user_id,
            installed_at=row.updated_at,
            token_type=BOT_TOKEN_TYPE,
        )

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.delete_installation(enterprise_id=enterprise_id, team_id=team_id)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        """Turn the workspace off (uninstalled, tokens revoked); its rows stay for the record."""
        row = SlackInstallation.objects.filter(team_id=team_id or "", is_active=True).first()
        if row is not None:
            row.is_active = False
            slack_installation_update(installation=row)
