"""Applying what Twilio reported about calls: a batch in one transaction, or one report alone.

The interface, for the store the reports wait in (the Twilio inbox, a :class:`ReportStore`):

- :func:`calls_reports_apply` claims up to ``limit`` stored reports never tried, applies them
  in one transaction under their CallSid locks (:func:`inbound.calls_lock`), and records their
  outcomes in it. When one of them fails, the batch is rolled back and each of its reports is
  applied alone (``store.process``), so one bad report holds up no other.
- :func:`call_report_apply` claims one stored report, its CallSid's lock taken in the same
  statement, applies it and records its outcome, in one transaction.

Whoever holds a stored report's row owns its outcome: both claims skip a row another
transaction holds, and that transaction applies it, or gives it to ``store.process`` if it fails.
Each effect is idempotent: a report applied twice changes nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from django.db import transaction

from hub.domain.calls import locks
from hub.domain.calls.inbound import (
    MISSED,
    LockedCalls,
    call_ensure,
    call_missed_notify,
    call_recording_upsert,
    call_sid_held,
    calls_lock,
    voicemail_receive,
)
from hub.domain.calls.models import Call, CallDirection, CallStatus
from hub.domain.calls.reports import (
    CallReport,
    DialReport,
    IncomingReport,
    Leg,
    RecordingReport,
    StatusReport,
    VoicemailReport,
)
from hub.domain.calls.twilio_status import call_status_merge_locked

logger = logging.getLogger(__name__)

# Delays before a report is applied alone again: a call not known yet, or an error.
NOT_YET_DELAY_MS = 1000
ERROR_DELAY_MS = 500
# A report whose call another transaction held: applied alone (its job waits for the call).
BUSY_DELAY_MS = 0
BUSY = "its call was held by another transaction: applied alone"


class NotYet(Exception):
    """The report cannot be applied yet (its call is not known); try again later."""


Row = TypeVar("Row")
# Given the SQL naming a CallSid column: the SQL taking its lock and its parameters (or None).
SidLock = Callable[[str], tuple[str, tuple[int]] | None]


class ReportStore(Protocol[Row]):
    """Where reports wait, as rows with a ``pk``; its methods run in the transaction given."""

    def claim(self, limit: int) -> list[Row]:
        """Lock and return up to ``limit`` rows never tried, oldest first (skip locked rows)."""

    def claim_one(self, pk: int, sid_lock: SidLock) -> Row | None:
        """Lock and return the row, or None when another transaction holds it or it was applied
        already, taking its CallSid's lock in the same statement with the SQL ``sid_lock`` gives."""

    def report(self, row: Row) -> CallReport: ...

    def record(self, outcomes: list[tuple[Row, str | None, str]]) -> None:
        """Write a batch's outcomes: (row, outcome or None when not applied, error)."""

    def record_one(self, row: Row, outcome: str) -> None: ...

    def process(self, pk: int) -> str | None:
        """Apply the row alone, in its own transaction (:func:`call_report_apply`)."""


@dataclass
class Drained:
    """What one :func:`calls_reports_apply` did."""

    claimed: int = 0
    applied: int = 0
    # (row pk, delay in ms): rows to apply alone later (not applicable yet, or failed).
    again: list[tuple[int, int]] = field(default_factory=list)


def calls_reports_apply(store: ReportStore[Any], *, limit: int) -> Drained:
    """Apply up to ``limit`` stored reports never tried, oldest first, in one transaction.

    ``NotYet`` leaves its report for later. Any other error rolls the batch back, and then each
    of its reports is applied alone with ``store.process``.
    """
    rows: list[Any] = []
    try:
        with transaction.atomic():
            rows = store.claim(limit)
            if not rows:
                return Drained()
            drained = _batch_apply(store, rows)
    except Exception:
        if not rows:
            raise  # nothing claimed (the database is down): the caller retries
        logger.warning(
            "twilio inbox: a batch of %d callbacks failed; applying them one by one",
            len(rows),
            exc_info=True,
        )
        return _one_by_one(store, [row.pk for row in rows])
    return drained


def _batch_apply(store: ReportStore[Any], rows: list[Any]) -> Drained:
    reports = [store.report(row) for row in rows]
    held = calls_lock([report.call_sid for report in reports])
    drained = Drained(claimed=len(rows))
    outcomes: dict[int, tuple[str | None, str]] = {}
    waiting = []
    for row, report in zip(rows, reports, strict=True):
        if report.call_sid in held.busy:
            outcomes[row.pk] = (None, BUSY)
            drained.again.append((row.pk, BUSY_DELAY_MS))
            continue
        outcomes[row.pk] = _try(report, held)
        if outcomes[row.pk][0] is None:
            waiting.append((row, report))
    # A later report of the batch may have brought the call a waiting one needs (a recording
    # stored before its call's first status callback): one more try each.
    for row, report in waiting:
        outcomes[row.pk] = _try(report, held)
        if outcomes[row.pk][0] is None:
            drained.again.append((row.pk, NOT_YET_DELAY_MS))
    drained.applied = sum(outcome is not None for outcome, _ in outcomes.values())
    store.record([(row, *outcomes[row.pk]) for row in rows])
    return drained


def _try(report: CallReport, held: LockedCalls) -> tuple[str | None, str]:
    """Apply one report of a batch: (outcome, "") or, when its call is not known yet, (None,
    why)."""
    try:
        return report_apply(report, held), ""
    except NotYet as exc:  # raised before its handler wrote anything
        return None, error_text(exc)


def _one_by_one(store: ReportStore[Any], pks: list[int]) -> Drained:
    drained = Drained(claimed=len(pks))
    for pk in pks:
        try:
            outcome = store.process(pk)
        except NotYet:
            drained.again.append((pk, NOT_YET_DELAY_MS))
        except Exception:
            logger.exception("twilio callback %s failed; it is retried", pk)
            drained.again.append((pk, ERROR_DELAY_MS))
        else:
            drained.applied += outcome is not None
    return drained


def call_report_apply(store: ReportStore[Any], pk: int) -> tuple[Any, str] | None:
    """Apply the stored report ``pk`` alone, in one transaction; return its row and outcome
    (None if it was applied already, or another transaction holds the row: it then owns its
    outcome).

    The row is claimed with its CallSid's lock in the same statement, so a call not known yet
    is made without reading it twice. Raises ``NotYet`` or the error that rolled it back.
    """
    with transaction.atomic():
        row = store.claim_one(pk, locks.call_sid_lock_sql)
        if row is None:
            return None
        outcome = report_apply(store.report(row), call_sid_held())
        store.record_one(row, outcome)
    return row, outcome


def error_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


# --- one handler per kind of report ---------------------------------------------------------
def _nobody(leg: Leg) -> str:
    number = leg.from_number if leg.direction == CallDirection.OUTBOUND else leg.to_number
    return f"ignored: no company owns {number or 'the number'}"


def _status(report: StatusReport, held: LockedCalls) -> str:
    status = report.status
    reported = report.timing.fields() if status else {}
    call, created = call_ensure(
        held,
        call_sid=report.call_sid,
        leg=report.leg,
        status=status or CallStatus.INITIATED,
        **reported,
    )
    if call is None:
        return _nobody(report.leg)
    # A call created from this very callback already holds everything it reports.
    # call_ensure read the call with select_for_update in this transaction: no second read.
    changed = (created and status is not None) or call_status_merge_locked(
        call,
        twilio_status=report.twilio_status,
        sequence_number=report.sequence_number,
        timing=report.timing,
    )
    if status is None:
        return f"unknown status {report.twilio_status[:40]!r}: call left unchanged"
    if status in MISSED:
        call_missed_notify(call=call, outcome=status)
    return f"{call.status}" if changed else f"no change ({call.status})"


def _incoming(report: IncomingReport, held: LockedCalls) -> str:
    call, _ = call_ensure(held, call_sid=report.call_sid, leg=report.leg, status=report.status)
    if call is None:
        return _nobody(report.leg)
    return f"call {call.id}"


def _dialed(report: DialReport, held: LockedCalls) -> str:
    call = _call(report, held)
    if call is None:
        return _nobody(report.leg)
    if report.dial_status in ("completed", "answered", "in-progress"):
        return f"answered ({report.dial_status})"
    outcome = CallStatus.BUSY if report.dial_status == "busy" else CallStatus.NO_ANSWER
    call_missed_notify(call=call, outcome=outcome)
    return f"missed ({report.dial_status or 'unknown'})"


def _voicemail(report: VoicemailReport, held: LockedCalls) -> str:
    call = _call(report, held)
    if call is None:
        return _nobody(report.leg)
    if not report.recording_url or report.duration <= 0:
        return "no voicemail recorded"
    voicemail = voicemail_receive(
        call=call,
        recording_url=report.recording_url,
        duration=report.duration,
        transcription=report.transcription,
    )
    return f"voicemail {voicemail.id}"


def _call(report: DialReport | VoicemailReport, held: LockedCalls) -> Call | None:
    leg = report.leg
    return call_ensure(held, call_sid=report.call_sid, leg=leg, status=CallStatus.IN_PROGRESS)[0]


def _recording(report: RecordingReport, held: LockedCalls) -> str:
    if report.recording_status != "completed":
        return f"recording {report.recording_status}"
    call = held.call(report.call_sid)
    if call is None:
        # Recording callbacks carry no numbers; the call comes with a status callback that may
        # arrive later (callbacks arrive in any order). Retried until the store gives up.
        raise NotYet(f"call {report.call_sid} not known yet")
    recording = call_recording_upsert(
        call=call,
        recording_sid=report.recording_sid,
        recording_url=report.recording_url,
        duration=report.duration,
    )
    return f"recording {recording.id}"


HANDLERS: dict[type, Callable[[Any, LockedCalls], str]] = {
    StatusReport: _status,
    IncomingReport: _incoming,
    DialReport: _dialed,
    VoicemailReport: _voicemail,
    RecordingReport: _recording,
}


def report_apply(report: CallReport, held: LockedCalls) -> str:
    """Apply one report in the current transaction; ``held``: its call, under its CallSid lock."""
    return HANDLERS[type(report)](report, held)
