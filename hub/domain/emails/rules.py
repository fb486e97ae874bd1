"""E-mail rules (``emails_emailrule``) run on their triggers (stub: being written)."""

from __future__ import annotations

from typing import Any


def rules_run(
    *, trigger: str, company_id: int, email: Any = None, lead: Any = None, deal: Any = None
) -> int:
    """Run the company's active rules of ``trigger``; returns how many acted. Never raises."""
    return 0
