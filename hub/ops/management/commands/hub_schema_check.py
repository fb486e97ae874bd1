"""``manage.py hub_schema_check``: list how a database's shared tables differ from the models."""

from __future__ import annotations

from itertools import groupby

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from hub.ops.schema_check import schema_differences, shared_models


class Command(BaseCommand):
    help = (
        "Compare the shared tables (authentication_*, crm_*, customers_*, emails_*, calls_*, "
        "notifications_*, issues_*) of a live database with the models: columns, types, "
        "nullability, keys, foreign keys, indexes and CHECK constraints. Run it before pointing "
        "the hub at an existing CRM database with `migrate --fake-initial`. Exits 1 when "
        "anything differs."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            choices=list(connections),
            help="the database alias to inspect (default: %(default)s)",
        )

    def handle(self, *args, database: str = DEFAULT_DB_ALIAS, **options):
        differences = schema_differences(connections[database])
        checked = len(shared_models())
        if not differences:
            self.stdout.write(f"schema matches: {checked} tables checked")
            return
        for table, rows in groupby(differences, key=lambda difference: difference.table):
            self.stdout.write(table)
            for difference in rows:
                self.stdout.write(f"  {difference.detail}")
        tables = len({difference.table for difference in differences})
        raise CommandError(
            f"schema differs: {len(differences)} difference(s) in {tables} table(s) "
            f"({checked} tables checked)",
            returncode=1,
        )
