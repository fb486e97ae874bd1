"""``manage.py seed_demo``: two demo tenants and the console logins, for a development database."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from hub.ops.demo.data import TEAM_PASSWORD
from hub.ops.demo.seed import DemoError, DemoResult, demo_seed


class Command(BaseCommand):
    help = (
        "Create two demo companies (team with every role, customers, leads, deals, calls, "
        "mailboxes, notifications) and a superuser, with fixed published passwords. Running it "
        "again changes nothing; --reset deletes the demo companies and demo users first."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="delete the demo companies and demo users (admin@example.com too), then seed",
        )
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="seed even with DEBUG off (the demo passwords are public: never on production)",
        )

    def handle(self, *args, reset: bool = False, allow_without_debug: bool = False, **options):
        if not settings.DEBUG and not allow_without_debug:
            raise CommandError(
                "seed_demo creates logins with published passwords, so it runs only with DEBUG=1 "
                "(or --allow-without-debug on a database that is not production)."
            )
        try:
            result = demo_seed(stdout=self.stdout, reset=reset)
        except DemoError as exc:
            raise CommandError(str(exc)) from None
        for line in self._summary(result):
            self.stdout.write(line)

    def _summary(self, result: DemoResult) -> list[str]:
        if result.created:
            lines = [self.style.SUCCESS("Demo data created (in one transaction).")]
        else:
            lines = ["Demo data already present: nothing created (--reset recreates it)."]
        names = ", ".join(f"{c.company_name} ({c.industry})" for c in result.companies)
        lines.append(f"  companies: {names}")
        counts = [f"{kind} {n}" for kind, n in result.counts.items()]
        lines += ["  " + ", ".join(counts[i : i + 7]) for i in range(0, len(counts), 7)]
        lines += [f"  note: {note}" for note in result.notes]
        admin_url = (settings.HUB_PUBLIC_URL or "").rstrip("/") + "/admin/"
        lines.append("Logins (fixed demo passwords, for the local development database only):")
        for login in result.logins:
            password = login.password or "(not the demo password)"
            lines.append(
                f"  {login.label}: {admin_url}  login {login.email} / {password}  [{login.note}]"
            )
        lines.append(f"  Every demo team member's password is {TEAM_PASSWORD}.")
        return lines
