"""Re-encrypting the Slack installations' bot tokens with the newest ``EMAIL_ENCRYPTION_KEY``."""

from __future__ import annotations

from hub.domain.emails.credentials import (
    DEFAULT_BATCH_SIZE,
    Progress,
    ReencryptResult,
    credentials_reencrypt,
)
from hub.integrations.slack.models import SlackInstallation


def slack_credentials_reencrypt_all(
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ReencryptResult:
    """Re-encrypt every bot token (``hub_slack_installation``), row by row.

    Each row is saved (not updated in bulk), so this process's cache of installations is
    forgotten like after any other change of one.
    """
    return credentials_reencrypt(
        model=SlackInstallation,
        columns=("bot_token",),
        batch_size=batch_size,
        dry_run=dry_run,
        progress=progress,
    )
