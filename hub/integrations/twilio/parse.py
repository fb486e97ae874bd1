"""Twilio's callback parameters → the typed reports of :mod:`hub.domain.calls.reports`.

Every Twilio parameter name the hub reads is read here. Parsing never fails on a bad value: a
number, time or price that cannot be read is left out, as Twilio leaves out what it does not
know.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from hub.domain.calls.models import CallDirection, CallStatus
from hub.domain.calls.reports import (
    CallReport,
    DialReport,
    IncomingReport,
    Leg,
    RecordingReport,
    StatusReport,
    Timing,
    VoicemailReport,
)
from hub.domain.calls.twilio_status import TERMINAL, twilio_status_map
from hub.integrations.twilio.models import CallbackKind, TwilioCallback


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else None


def _price(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _leg(params: dict[str, Any]) -> Leg:
    raw = str(params.get("Direction") or "inbound").lower()
    return Leg(
        direction=CallDirection.INBOUND if raw == "inbound" else CallDirection.OUTBOUND,
        from_number=str(params.get("From") or ""),
        to_number=str(params.get("To") or ""),
    )


def _timing(status: str | None, p: dict[str, Any]) -> Timing:
    """The timing and price a status callback carries."""
    if status is None:
        return Timing()
    at = _time(p.get("Timestamp"))
    duration = _int(p.get("CallDuration")) if status in TERMINAL else None
    start_time = at if status == CallStatus.IN_PROGRESS else None
    end_time = at if status in TERMINAL else None
    if status == CallStatus.COMPLETED and end_time and duration:
        start_time = end_time - timedelta(seconds=duration)
    price = _price(p.get("Price"))
    price_unit = str(p.get("PriceUnit") or "").upper()[:10] if price is not None else ""
    return Timing(duration, start_time, end_time, price, price_unit or None)


def _status(row: TwilioCallback) -> StatusReport:
    raw = str(row.params.get("CallStatus") or "")
    status = twilio_status_map(raw)
    return StatusReport(
        call_sid=row.call_sid,
        sequence_number=row.sequence_number,
        leg=_leg(row.params),
        twilio_status=raw,
        status=status,
        timing=_timing(status, row.params),
    )


def _incoming(row: TwilioCallback) -> IncomingReport:
    status = twilio_status_map(str(row.params.get("CallStatus") or "")) or CallStatus.RINGING
    return IncomingReport(call_sid=row.call_sid, leg=_leg(row.params), status=status)


def _dialed(row: TwilioCallback) -> DialReport:
    dial_status = str(row.params.get("DialCallStatus") or "").lower()
    return DialReport(call_sid=row.call_sid, leg=_leg(row.params), dial_status=dial_status)


def _voicemail(row: TwilioCallback) -> VoicemailReport:
    p = row.params
    return VoicemailReport(
        call_sid=row.call_sid,
        leg=_leg(p),
        recording_url=str(p.get("RecordingUrl") or ""),
        duration=_int(p.get("RecordingDuration")) or 0,
        transcription=p.get("TranscriptionText"),
    )


def _recording(row: TwilioCallback) -> RecordingReport:
    p = row.params
    return RecordingReport(
        call_sid=row.call_sid,
        recording_status=str(p.get("RecordingStatus") or "completed").lower(),
        # The webhook refuses a recording callback without a RecordingSid.
        recording_sid=str(p.get("RecordingSid") or ""),
        recording_url=str(p.get("RecordingUrl") or ""),
        duration=_int(p.get("RecordingDuration")) or 0,
    )


_PARSERS: dict[str, Callable[[TwilioCallback], CallReport]] = {
    CallbackKind.STATUS: _status,
    CallbackKind.INCOMING: _incoming,
    CallbackKind.DIALED: _dialed,
    CallbackKind.VOICEMAIL: _voicemail,
    CallbackKind.RECORDING: _recording,
}


def callback_report(row: TwilioCallback) -> CallReport:
    """The report a stored callback makes, by its kind."""
    return _PARSERS[row.kind](row)
