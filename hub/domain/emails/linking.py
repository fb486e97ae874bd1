"""A thread's CRM records, found by its participants' e-mail addresses (stub: being written)."""

from __future__ import annotations

from hub.domain.emails.models import EmailThread


def thread_crm_link(thread: EmailThread) -> bool:
    """Set the thread's lead / deal / customer from its participants; True if it changed."""
    return False
