"""Twilio's call status strings → ``calls_call.status`` (SCHEMA.md D7/D8), and applying them.

The one mapping table is :data:`TWILIO_CALL_STATUS`. :func:`call_status_merge` is the domain
service every Twilio path (status callbacks, reconciliation, click-to-call) uses to move a call:

- callbacks arrive out of order and repeated, so the status only moves forward
  (Initiated < Ringing < InProgress < any terminal) and a terminal status is final: the first
  terminal status a call reaches is kept, nothing regresses it;
- timing merges commutatively so any order of the same events gives the same row:
  ``start_time`` keeps the earliest value seen, ``end_time`` and ``duration`` the largest,
  ``price`` (with ``price_unit``) the first one reported;
- a status change goes through :func:`hub.domain.calls.services.call_status_set`, so the
  event log gets exactly one ``call.updated`` per change (the trigger on PostgreSQL, the
  service elsewhere);
- an unknown Twilio status changes nothing: it is logged, counted in
  ``hub_twilio_unknown_status_total`` and the caller keeps the raw value (the inbox row).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from prometheus_client import Counter

from hub.domain.calls.models import TERMINAL_CALL_STATUSES, Call, CallStatus
from hub.domain.calls.reports import Timing
from hub.domain.calls.services import call_status_set

logger = logging.getLogger(__name__)

UNKNOWN_STATUS = Counter(
    "hub_twilio_unknown_status_total",
    "Twilio call status strings the hub does not know",
    ["status"],
)

#: Twilio's ``CallStatus`` (and ``StatusCallbackEvent``) values → SCHEMA.md D7 values.
TWILIO_CALL_STATUS: dict[str, str] = {
    "queued": CallStatus.INITIATED,
    "initiated": CallStatus.INITIATED,
    "ringing": CallStatus.RINGING,
    "answered": CallStatus.IN_PROGRESS,
    "in-progress": CallStatus.IN_PROGRESS,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "failed": CallStatus.FAILED,
    "canceled": CallStatus.CANCELLED,
    "cancelled": CallStatus.CANCELLED,
}

TERMINAL: frozenset[str] = frozenset(str(s) for s in TERMINAL_CALL_STATUSES)

_RANK: dict[str, int] = {
    CallStatus.INITIATED: 0,
    CallStatus.RINGING: 1,
    CallStatus.IN_PROGRESS: 2,
    **dict.fromkeys(TERMINAL, 3),
}


def twilio_status_map(twilio_status: str | None) -> str | None:
    """Return the D7 status for Twilio's string, or None when it is unknown."""
    if not twilio_status:
        return None
    return TWILIO_CALL_STATUS.get(twilio_status.strip().lower().replace("_", "-"))


def status_rank(status: str) -> int:
    """Order of a D7 status: queued/initiated 0 < ringing 1 < in-progress 2 < terminal 3."""
    return _RANK.get(status, -1)


def status_advances(current: str, new: str) -> bool:
    """Whether moving from ``current`` to ``new`` is forward (terminal statuses are final)."""
    if current in TERMINAL:
        return False
    return status_rank(new) > status_rank(current)


def _refreshed(call: Call) -> Call:
    """``call`` with the stored values of its row, locked until the transaction ends."""
    locked = Call.objects.select_for_update().get(pk=call.pk)
    for field in Call._meta.concrete_fields:
        setattr(call, field.attname, getattr(locked, field.attname))
    return call


def _merged(call: Call, *, duration, start_time, end_time, price, price_unit) -> dict:
    changes: dict = {}
    if duration is not None and (call.duration is None or duration > call.duration):
        changes["duration"] = duration
    if start_time is not None and (call.start_time is None or start_time < call.start_time):
        changes["start_time"] = start_time
    if end_time is not None and (call.end_time is None or end_time > call.end_time):
        changes["end_time"] = end_time
    if price is not None and call.price is None:
        changes["price"] = price
        if price_unit:
            changes["price_unit"] = price_unit.upper()[:10]
    return changes


def call_status_merge(
    *,
    call: Call,
    twilio_status: str,
    sequence_number: int | None = None,
    duration: int | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    price: Decimal | None = None,
    price_unit: str | None = None,
) -> bool:
    """Merge one Twilio status report into the call; return whether anything changed.

    Locks the call row, so concurrent reports for one call apply one after the other. ``call``
    is refreshed in place with the stored values.
    """
    timing = Timing(duration, start_time, end_time, price, price_unit)
    with transaction.atomic():
        status = _known(call, twilio_status, sequence_number)
        if status is None:
            return False
        return _merge(_refreshed(call), status, timing)


def call_status_merge_locked(
    call: Call, *, twilio_status: str, sequence_number: int | None, timing: Timing
) -> bool:
    """:func:`call_status_merge` for a call this transaction read with ``select_for_update``
    (the callbacks' path): used as it is, and no savepoint of its own (a failure here fails the
    caller's whole transaction)."""
    status = _known(call, twilio_status, sequence_number)
    if status is None:
        return False
    return _merge(call, status, timing)


def _known(call: Call, twilio_status: str, sequence_number: int | None) -> str | None:
    status = twilio_status_map(twilio_status)
    if status is None:
        UNKNOWN_STATUS.labels(status=str(twilio_status)[:40]).inc()
        logger.warning(
            "unknown Twilio call status %r for %s (sequence %s); call left unchanged",
            twilio_status,
            call.twilio_call_sid,
            sequence_number,
        )
    return status


def _merge(call: Call, status: str, timing: Timing) -> bool:
    changes = _merged(
        call,
        duration=timing.duration,
        start_time=timing.start_time,
        end_time=timing.end_time,
        price=timing.price,
        price_unit=timing.price_unit,
    )
    for name, value in changes.items():
        setattr(call, name, value)
    moved = status_advances(call.status, status)
    if moved:
        call_status_set(
            call=call,
            status=status,
            duration=call.duration,
            start_time=call.start_time,
            end_time=call.end_time,
        )
        extra = [name for name in ("price", "price_unit") if name in changes]
        if extra:
            call.save(update_fields=extra)
    elif changes:
        call.save(update_fields=list(changes))
    return moved or bool(changes)
