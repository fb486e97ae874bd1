"""Links to the console's deal, lead and call pages unfold into their cards."""

from __future__ import annotations

from slack_bolt import App


def register(app: App, *, installation_key: str) -> None:
    """Register this module's listeners (none yet)."""
