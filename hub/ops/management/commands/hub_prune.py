"""``manage.py hub_prune [--dry-run]``: run retention now, printing what it deletes."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from hub.domain.retention import Pruned
from hub.ops.retention import retention_run


class Command(BaseCommand):
    help = (
        "Delete what retention deletes every HUB_RETENTION_INTERVAL_SECONDS: events older than "
        "the replay window (never one the relay has not published, nor the newest) and Twilio "
        "callbacks applied more than HUB_TWILIO_CALLBACK_RETENTION_DAYS ago, "
        "HUB_RETENTION_BATCH_SIZE rows per transaction, at most HUB_RETENTION_MAX_ROWS per table."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be deleted; delete nothing"
        )

    def handle(self, *args, **options) -> None:
        dry_run = options["dry_run"]
        self.stdout.write(
            f"hub_prune: {settings.HUB_RETENTION_BATCH_SIZE} rows per batch, "
            f"at most {settings.HUB_RETENTION_MAX_ROWS} per table"
            + (" (dry run: nothing is deleted)" if dry_run else "")
        )
        for pruned in retention_run(dry_run=dry_run, progress=self._progress):
            verb = "would delete" if dry_run else "deleted"
            line = f"{pruned.table}: {verb} {pruned.deleted} rows"
            if pruned.capped:
                line += f" (the cap of {settings.HUB_RETENTION_MAX_ROWS}; more are left)"
            self.stdout.write(self.style.SUCCESS(line))

    def _progress(self, pruned: Pruned) -> None:
        self.stdout.write(
            f"  {pruned.table}: batch {len(pruned.batches)}, "
            f"{pruned.batches[-1]} rows ({pruned.deleted} so far)"
        )
        self.stdout.flush()
