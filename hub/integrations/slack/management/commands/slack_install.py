"""``manage.py slack_install --team T… --company ID|NAME --bot-token xoxb-… [alerts]``.

The alerts of a workspace already connected change without its token:
``slack_install --team T… --alerts-channel C… --alerts-off deal_moved``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.integrations.slack.alerts import (
    SWITCHES,
    alerts_channel_check,
    slack_alerts_configure,
    slack_installation_by_team,
)
from hub.integrations.slack.client import SlackError, auth_identity
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import slack_installation_register
from hub.ops.commands import company_arg

ALL = "all"
NO_CHANNEL = "none"


class Command(BaseCommand):
    help = (
        "Connect a Slack workspace to a company with the bot token of the hub's Slack app, and "
        "choose where its alerts go. Run again to replace the token or move the workspace to "
        "another company; with only --team and alert options, change the alerts of a connected "
        "workspace."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--team", required=True, help="the workspace's team id, T…")
        parser.add_argument("--company", help="company id or exact name")
        parser.add_argument("--bot-token", help="the Bot User OAuth Token, xoxb-…")
        parser.add_argument(
            "--no-verify",
            action="store_true",
            help="do not ask Slack (auth.test) whether the token belongs to --team",
        )
        parser.add_argument(
            "--alerts-channel",
            metavar="CHANNEL_ID",
            help="the channel (C…) deals won, lost and moved are posted to; "
            f"'{NO_CHANNEL}' posts them nowhere",
        )
        kinds = [*SWITCHES, ALL]
        for switch, verb in (("on", "switch on"), ("off", "switch off")):
            parser.add_argument(
                f"--alerts-{switch}",
                action="append",
                default=[],
                choices=kinds,
                metavar="KIND",
                help=f"{verb} a kind of alert (repeatable): {', '.join(kinds)}",
            )

    def handle(self, *args, **options) -> None:
        team_id = options["team"].strip()
        channel = options["alerts_channel"]
        if channel is not None:
            channel = "" if channel.strip().lower() == NO_CHANNEL else channel
            try:
                channel = alerts_channel_check(channel)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        kinds_on, kinds_off = _kinds(options["alerts_on"], options["alerts_off"])
        alerts = channel is not None or kinds_on or kinds_off
        if options["company"] or options["bot_token"]:
            installation = self._install(team_id, options)
        elif not alerts:
            raise CommandError(
                "nothing to do: give --company and --bot-token to connect the workspace, or "
                "--alerts-channel, --alerts-on or --alerts-off to change its alerts"
            )
        else:
            found = slack_installation_by_team(team_id)
            if found is None:
                raise CommandError(
                    f"workspace {team_id} is not connected: give --company and --bot-token"
                )
            installation = found
        if alerts:
            try:
                slack_alerts_configure(
                    installation=installation,
                    channel_id=channel,
                    kinds_on=kinds_on,
                    kinds_off=kinds_off,
                )
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
            self.stdout.write(_alerts_summary(installation))

    def _install(self, team_id: str, options: dict) -> SlackInstallation:
        if not (options["company"] and options["bot_token"]):
            raise CommandError(
                "--company and --bot-token go together (without both, only the alerts of a "
                "connected workspace change)"
            )
        company = company_arg(options["company"])
        token = options["bot_token"].strip()
        bot_user_id = team_name = ""
        if not options["no_verify"]:
            try:
                identity = auth_identity(token=token)
            except SlackError as exc:
                raise CommandError(f"the token was not accepted: {exc}") from exc
            if identity["team_id"] != team_id:
                raise CommandError(
                    f"the token belongs to workspace {identity['team_id']}, not {team_id}"
                )
            bot_user_id, team_name = identity["user_id"], identity["team"]
        try:
            installation = slack_installation_register(
                team_id=team_id,
                company=company,
                bot_token=token,
                bot_user_id=bot_user_id,
                team_name=team_name,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            f"Slack workspace {installation.team_id} ({installation.team_name or 'name unknown'}) "
            f"is connected to {company.company_name} (id {company.pk})."
        )
        return installation


def _kinds(on: list[str], off: list[str]) -> tuple[list[str], list[str]]:
    """The kinds to switch on and off; ``all`` on one side means all but those on the other."""
    if ALL in on and ALL in off:
        raise CommandError("--alerts-on all and --alerts-off all contradict each other")
    if ALL in on:
        on = [kind for kind in SWITCHES if kind not in off]
    elif ALL in off:
        off = [kind for kind in SWITCHES if kind not in on]
    return list(dict.fromkeys(on)), list(dict.fromkeys(off))


def _alerts_summary(installation: SlackInstallation) -> str:
    on = [kind for kind, field in SWITCHES.items() if getattr(installation, field)]
    off = [kind for kind in SWITCHES if kind not in on]
    where = (
        f"go to channel {installation.alerts_channel_id}"
        if installation.alerts_channel_id
        else "have no channel (deals won, lost and moved are not posted)"
    )
    return (
        f"Alerts of Slack workspace {installation.team_id} {where}; "
        f"on: {', '.join(on) or 'none'}; off: {', '.join(off) or 'none'}."
    )
