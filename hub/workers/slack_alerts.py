"""Slack alerts: turn new events of the log into Slack messages and post them, in order."""

from __future__ import annotations

QUEUE = "slack"
