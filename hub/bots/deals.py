"""``/deal``: see, move, win, lose, assign and note deals from Slack."""

from __future__ import annotations

from slack_bolt import App


def register(app: App, *, installation_key: str) -> None:
    """Register this module's listeners (none yet)."""
