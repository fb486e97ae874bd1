"""Slack Events API work: publish App Home, unfurl links."""

from __future__ import annotations

QUEUE = "slack"
