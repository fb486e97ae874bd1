"""The payload of each event, built the same way whichever path wrote the change.

On PostgreSQL the triggers of ``hub/domain/events/sql.py`` build these payloads in SQL; on
other databases the services call :func:`hub.domain.events.services.event_record` with the
builders below. Both must produce the same keys and the same value formats (timestamps as
ISO 8601 in UTC, decimals as strings), which ``tests/events`` checks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hub.domain.events.sql import SNIPPET_LENGTH


def _ts(value: datetime | None) -> str | None:
    # Same text as the triggers' to_char(... AT TIME ZONE 'UTC', ...) || '+00:00'.
    return value.astimezone(UTC).isoformat(timespec="microseconds") if value is not None else None


def _dec(value: Decimal | None, places: int = 2) -> str | None:
    return f"{Decimal(str(value)):.{places}f}" if value is not None else None


def notification_payload(n) -> dict[str, Any]:
    return {
        "id": str(n.id),
        "title": n.title,
        "message": n.message,
        "type": n.type,
        "is_read": n.is_read,
        "related_object_type": n.related_object_type,
        "related_object_id": str(n.related_object_id) if n.related_object_id else None,
        "created_at": _ts(n.created_at),
    }


def email_snippet(body_text: str | None) -> str:
    """The start of a message's text, its whitespace runs folded into one space (as the
    trigger's ``regexp_replace(…, '\\s+', ' ')``)."""
    return " ".join((body_text or "").split())[:SNIPPET_LENGTH]


def email_payload(e) -> dict[str, Any]:
    return {
        "id": e.id,
        "email_account_id": e.email_account_id,
        "thread_id": e.thread_id,
        "subject": e.subject,
        "from_email": e.from_email,
        "from_name": e.from_name,
        "direction": e.direction,
        "sent_at": _ts(e.sent_at),
        "snippet": email_snippet(e.body_text),
    }


def call_payload(c) -> dict[str, Any]:
    return {
        "id": c.id,
        "twilio_call_sid": c.twilio_call_sid,
        "status": c.status,
        "direction": c.direction,
        "from_number": c.from_number,
        "to_number": c.to_number,
        "user_id": c.user_id,
        "phone_number_id": c.phone_number_id,
        "lead_id": c.lead_id,
        "deal_id": c.deal_id,
        "customer_id": c.customer_id,
        "duration": c.duration,
        "start_time": _ts(c.start_time),
        "end_time": _ts(c.end_time),
        "created_at": _ts(c.created_at),
    }


def deal_payload(d) -> dict[str, Any]:
    return {
        "id": d.id,
        "title": d.title,
        "pipeline_id": d.pipeline_id,
        "stage_id": d.stage_id,
        "status": d.status,
        "assigned_to_id": d.assigned_to_id,
        "value": _dec(d.value),
        "currency": d.currency,
        "probability": d.probability,
    }


def lead_payload(lead) -> dict[str, Any]:
    return {
        "id": lead.id,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "email": lead.email,
        "status": lead.status,
        "assigned_to_id": lead.assigned_to_id,
    }


# email.opened / email.clicked: written by the tracking service alone (no trigger), to the
# sending account's owner.
def _tracked_email(e) -> dict[str, Any]:
    return {
        "id": e.id,
        "email_account_id": e.email_account_id,
        "thread_id": e.thread_id,
        "subject": e.subject,
        "to_emails": list(e.to_emails or []),
    }


def email_opened_payload(e) -> dict[str, Any]:
    return _tracked_email(e) | {"opens_count": e.opens_count, "opened_at": _ts(e.opened_at)}


def email_clicked_payload(e, link_url: str) -> dict[str, Any]:
    return _tracked_email(e) | {
        "clicks_count": e.clicks_count,
        "clicked_at": _ts(e.clicked_at),
        "link_url": link_url,
    }
