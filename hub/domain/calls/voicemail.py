"""Writes on a voicemail once it is taken: whether it was listened to, and corrections.

A voicemail is created by :func:`hub.domain.calls.services.voicemail_create`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.domain.authentication.checks import company_rows_check
from hub.domain.authentication.models import User
from hub.domain.calls.models import VoicemailMessage

LISTENED_FIELDS = ("is_listened", "listened_by", "listened_at")
_DETAILS = frozenset(
    {"company", "phone_number", "from_number", "duration", "recording_url", "transcription"}
)


def voicemail_listened_set(
    *,
    voicemail: VoicemailMessage,
    is_listened: bool,
    by: User | None = None,
    at: datetime | None = None,
) -> VoicemailMessage:
    """Record whether a voicemail was listened to, by whom and when, as given."""
    voicemail.is_listened = is_listened
    voicemail.listened_by = by
    voicemail.listened_at = at
    voicemail.save(update_fields=list(LISTENED_FIELDS))
    return voicemail


def voicemail_update(*, voicemail: VoicemailMessage, **changes: Any) -> VoicemailMessage:
    """Correct a voicemail's details with the rules of ``voicemail_create``, checked on the result.

    Its listened flag is :func:`voicemail_listened_set`.
    """
    unknown = set(changes) - _DETAILS
    if unknown:
        raise TypeError(f"voicemail_update() cannot change {', '.join(sorted(unknown))}")
    if not changes:
        return voicemail
    for name, value in changes.items():
        setattr(voicemail, name, value)
    company_rows_check(company=voicemail.company, phone_number=voicemail.phone_number)
    voicemail.full_clean()
    voicemail.save(update_fields=list(changes))
    return voicemail
