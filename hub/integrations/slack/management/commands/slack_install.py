"""``manage.py slack_install --team T… --company ID|NAME --bot-token xoxb-…``."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.integrations.slack.client import SlackError, auth_identity
from hub.integrations.slack.services import slack_installation_register
from hub.ops.commands import company_arg


class Command(BaseCommand):
    help = (
        "Connect a Slack workspace to a company with the bot token of the hub's Slack app "
        "(installed from the app's own settings page; there is no OAuth install flow). "
        "Run again to replace the token or move the workspace to another company."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--team", required=True, help="the workspace's team id, T…")
        parser.add_argument("--company", required=True, help="company id or exact name")
        parser.add_argument("--bot-token", required=True, help="the Bot User OAuth Token, xoxb-…")
        parser.add_argument(
            "--no-verify",
            action="store_true",
            help="do not ask Slack (auth.test) whether the token belongs to --team",
        )

    def handle(self, *args, **options) -> None:
        company = company_arg(options["company"])
        team_id, token = options["team"].strip(), options["bot_token"].strip()
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
