"""Slack follow-ups of /deal and /lead: work too slow for Slack's 3 s (large lists, Slack look-ups)."""

from __future__ import annotations

QUEUE = "slack"
