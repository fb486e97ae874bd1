"""``manage.py twilio_backfill --company ID|NAME --since YYYY-MM-DD --until YYYY-MM-DD``."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.domain.authentication.models import Company
from hub.domain.calls.reconcile import calls_backfill
from hub.integrations.twilio.rest import TwilioError


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (expected YYYY-MM-DD)") from None


def _company(value: str) -> Company:
    if value.isdigit():
        company = Company.objects.filter(pk=int(value)).first()
    else:
        matches = list(Company.objects.filter(company_name__iexact=value)[:2])
        if len(matches) > 1:
            raise CommandError(f"several companies are named {value!r}; give its id")
        company = matches[0] if matches else None
    if company is None:
        raise CommandError(f"no company with id or name {value!r}")
    return company


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
        company = _company(options["company"])
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
