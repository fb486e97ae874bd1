"""App Home: the member's open deals, the pipeline, today's and missed calls."""

from __future__ import annotations

from slack_bolt import App


def register(app: App, *, installation_key: str) -> None:
    """Register this module's listeners (none yet)."""
