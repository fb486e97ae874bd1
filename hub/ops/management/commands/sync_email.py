"""``manage.py sync_email ACCOUNT_ID``: sync one mailbox now, in the foreground."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from hub.domain.emails.models import EmailAccount, SyncStatus
from hub.domain.emails.sync import ALREADY_RUNNING, SyncResult, mailbox_sync


class Command(BaseCommand):
    help = (
        "Sync one e-mail account's INBOX and Sent folder now (what the scheduler does every "
        "HUB_EMAIL_SYNC_INTERVAL_SECONDS), with a progress bar, and print what was imported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account_id", type=int, help="the id of the e-mail account")

    def handle(self, *args: Any, **options: Any) -> None:
        account = EmailAccount.objects.select_related("user").filter(pk=options["account_id"])
        found = account.first()
        if found is None:
            raise CommandError(f"There is no e-mail account {options['account_id']}.")
        self.stdout.write(f"sync_email: {found.email} (account {found.pk}), {found.imap_host}")
        bars = _Bars(self.stderr)
        try:
            result = mailbox_sync(account=found, progress=bars.update)
        finally:
            bars.close()
        if result.status == ALREADY_RUNNING:
            raise CommandError(
                f"A sync of account {found.pk} is already running or queued; try again when "
                "it is over (its last run is in the admin's e-mail sync logs)."
            )
        self._report(result)
        if result.status == SyncStatus.FAILED:
            raise CommandError(f"The sync failed: {result.error}")

    def _report(self, result: SyncResult) -> None:
        for folder in result.folders:
            line = (
                f"{folder.name}: {folder.new} new, {folder.duplicates} duplicates, "
                f"{folder.flags_updated} flags updated, {folder.broken} broken"
            )
            if folder.resynced:
                line += " (from the sync window)"
            self.stdout.write(self.style.SUCCESS(line))
        self.stdout.write(f"sync log {result.log_id}: {result.status}, {result.new} new")


class _Bars:
    """A tqdm bar per folder on a terminal; plain progress lines otherwise."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.bar: tqdm | None = None
        self.folder = ""

    def update(self, folder: str, done: int, total: int) -> None:
        if not self.tty:
            self.stream.write(f"{folder}: {done}/{total}")
            self.stream.flush()
            return
        if folder != self.folder:
            self.close()
            self.folder = folder
            self.bar = tqdm(total=total, desc=folder, unit="msg", file=self.stream._out)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
