"""``manage.py twilio_backfill --company ID|NAME --since YYYY-MM-DD --until YYYY-MM-DD``."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.domain.calls.reconcile import calls_backfill
from hub.integrations.twilio.rest import TwilioError
from hub.ops.commands import company_arg


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (expected YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = (
        "Create or correct a company's calls from Twilio's call log, for the calls to and from "
        "its numbers that started between --since and --until (inclusive, UTC days). "
        "Safe to run again: a second run changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", required=True, help="company id or exact name")
        parser.add_argument("--since", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--until", required=True, help="last day, YYYY-MM-DD")

    def handle(self, *args, **options) -> None:
        company = company_arg(options["company"])
        since, until = _day(options["since"]), _day(options["until"])
        self.stdout.write(
            f"backfilling the calls of {company.company_name} (id {company.pk}) "
            f"from {since} to {until}"
        )
        try:
            summary = calls_backfill(
                company=company, since=since, until=until, progress=self.stdout.write
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except TwilioError as exc:
            raise CommandError(f"Twilio: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"done: {summary}"))
