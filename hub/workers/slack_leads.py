"""Slack follow-ups of /lead: work too slow for Slack's 3 s (Slack look-ups, large lists)."""

from __future__ import annotations

QUEUE = "slack"
