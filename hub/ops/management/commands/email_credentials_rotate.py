"""``manage.py email_credentials_rotate [--dry-run]``: re-encrypt every stored credential with
the newest ``EMAIL_ENCRYPTION_KEY`` (mailbox passwords and OAuth tokens, Slack bot tokens)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.domain.emails.credentials import (
    DEFAULT_BATCH_SIZE,
    ReencryptResult,
    credentials_reencrypt_all,
)
from hub.integrations.slack.credentials import slack_credentials_reencrypt_all


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored credential (emails_emailaccount.password and oauth_token, "
        "hub_slack_installation.bot_token) with the first key of EMAIL_ENCRYPTION_KEY. Put the "
        "new key first, keep the old ones after it, run this, then drop the old keys. Each row "
        "is rewritten in its own transaction; a row no key decrypts is reported and left as it "
        "is, and the command then exits with status 1 after doing every other row."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be re-encrypted; write nothing"
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"rows read per batch, progress printed after each (default {DEFAULT_BATCH_SIZE})",
        )

    def handle(self, *args, **options) -> None:
        dry_run, batch_size = options["dry_run"], options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        self.stdout.write(
            "email_credentials_rotate: re-encrypting with the newest of "
            f"{len(settings.EMAIL_ENCRYPTION_KEYS)} key(s)"
            + (" (dry run: nothing is written)" if dry_run else "")
        )
        results = []
        for rotate in (credentials_reencrypt_all, slack_credentials_reencrypt_all):
            try:
                result = rotate(batch_size=batch_size, dry_run=dry_run, progress=self._progress)
            except ImproperlyConfigured as error:
                raise CommandError(str(error)) from None
            self._summary(result)
            results.append(result)
        self._total(results)

    def _progress(self, result: ReencryptResult) -> None:
        verb = "to re-encrypt" if result.dry_run else "re-encrypted"
        self.stdout.write(
            f"  {result.table}: {result.rows} rows done "
            f"({result.rotated} {verb}, {result.failed} failed)"
        )
        self.stdout.flush()

    def _summary(self, result: ReencryptResult) -> None:
        verb = "would re-encrypt" if result.dry_run else "re-encrypted"
        line = (
            f"{result.table}: {verb} {result.rotated} rows "
            f"({result.current} already under the newest key), {result.failed} failed"
        )
        self.stdout.write(self.style.WARNING(line) if result.failed else self.style.SUCCESS(line))
        for failure in result.failures:
            self.stderr.write(
                f"  {failure.table} row {failure.row_id} ({', '.join(failure.columns)}): "
                "no key of EMAIL_ENCRYPTION_KEY decrypts it; left untouched"
            )

    def _total(self, results: list[ReencryptResult]) -> None:
        rotated = sum(r.rotated for r in results)
        current = sum(r.current for r in results)
        failed = sum(r.failed for r in results)
        self.stdout.write(
            f"Total: {'would re-encrypt' if results[0].dry_run else 'rotated'} {rotated}, "
            f"already current {current} (re-encrypted too: Fernet tokens carry no key id), "
            f"failed {failed}"
        )
        if failed:
            raise CommandError(
                f"{failed} row(s) hold a credential that no key of EMAIL_ENCRYPTION_KEY decrypts "
                "(listed above); they were left untouched. Add the key they were made with, "
                "or enter those credentials again."
            )
