"""Store verified Twilio callbacks, process each exactly once, sweep what the broker missed.

- :func:`callback_store` runs in the webhook before it answers: one row per distinct callback
  (same CallSid + SequenceNumber, or the same content, is a duplicate and stores nothing).
- :func:`inbox_drain` runs in a worker: it claims the rows never tried yet, as many as a batch
  holds, applies their effects through the ``hub.domain.calls`` services and sets their
  ``processed_at``, all in one transaction. When one of them fails, the batch is rolled back
  and each row is applied alone, so one bad callback holds up no other.
- :func:`callback_process` applies one row alone the same way: a failed row's retries, the
  sweeper's, and the batch's fallback. An error rolls the whole effect back; the row keeps the
  attempt count and the error and is retried.
- :func:`inbox_sweep` returns the rows nobody processed (broker down, worker crashed).

Whoever holds a row's lock owns its outcome: both paths skip a row another transaction holds,
and that transaction applies it, or gives it to :func:`callback_process` if it fails.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from prometheus_client import Counter

from hub.domain.calls.inbound import (
    MISSED,
    CallBatch,
    call_ensure,
    call_missed_notify,
    call_recording_upsert,
    call_sid_lock_sql,
    calls_locked,
    voicemail_receive,
)
from hub.domain.calls.models import Call, CallDirection, CallStatus
from hub.domain.calls.twilio_status import TERMINAL, call_status_apply, twilio_status_map
from hub.integrations.twilio.models import CallbackKind, TwilioCallback

logger = logging.getLogger(__name__)

CALLBACKS = Counter(
    "hub_twilio_callbacks_total", "Twilio webhook callbacks by kind and result", ["kind", "result"]
)
PROCESSED = Counter(
    "hub_twilio_callbacks_processed_total", "Inbox rows processed by result", ["kind", "result"]
)

# A row that failed this many times is left for a person (it keeps last_error).
MAX_ATTEMPTS = 10
SWEEP_MIN_AGE = timedelta(seconds=5)


class NotYet(Exception):
    """The row cannot be applied yet (its call is not known); try again later."""


def content_hash(kind: str, params: dict[str, Any]) -> str:
    body = json.dumps([kind, sorted(params.items())], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def callback_store(
    *, kind: str, params: dict[str, Any], call_sid: str, sequence_number: int | None
) -> TwilioCallback | None:
    """Store a verified callback; None when it duplicates one already stored.

    One ``INSERT ... ON CONFLICT DO NOTHING``: a duplicate (either unique constraint) inserts
    nothing and raises nothing, so the webhook needs no transaction or savepoint around it.
    """
    row = TwilioCallback(
        kind=kind,
        params=params,
        verified_at=timezone.now(),
        call_sid=call_sid,
        sequence_number=sequence_number,
        content_hash=content_hash(kind, params),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_SQL, [f.get_db_prep_save(getattr(row, f.attname), connection) for f in _FIELDS]
        )
        inserted = cursor.fetchone()
    if inserted is None:
        CALLBACKS.labels(kind=kind, result="duplicate").inc()
        return None
    row.pk = inserted[0]
    row._state.adding = False
    CALLBACKS.labels(kind=kind, result="stored").inc()
    return row


_FIELDS = [f for f in TwilioCallback._meta.concrete_fields if not f.primary_key]
# Concrete fields are those with a column (Field.column is None only for the others).
_COLUMNS = [cast(str, f.column) for f in _FIELDS]
# Table and column names come from the model, never from a request.
_INSERT_SQL = (
    f"INSERT INTO {TwilioCallback._meta.db_table} ({', '.join(_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(_FIELDS))}) "
    f"ON CONFLICT DO NOTHING RETURNING {TwilioCallback._meta.pk.column}"
)


@dataclass
class _Lookup:
    """How a handler finds its call: alone, under its row's CallSid lock (``sid_locked``), or
    in a batch (``batch``: from :func:`calls_locked`)."""

    sid_locked: bool = False
    batch: CallBatch | None = None


@dataclass
class Drained:
    """What one :func:`inbox_drain` did."""

    claimed: int = 0
    applied: int = 0
    # (callback id, delay in ms): rows to apply alone later (not applicable yet, or failed).
    again: list[tuple[int, int]] = field(default_factory=list)


# Delays before a row is applied alone again: a call not known yet, or an error.
NOT_YET_DELAY_MS = 1000
ERROR_DELAY_MS = 500
# A row whose call another transaction held: applied alone (its job waits for the call).
BUSY_DELAY_MS = 0


def inbox_drain(*, limit: int) -> Drained:
    """Apply up to ``limit`` rows never tried yet, oldest first, in one transaction.

    A row another transaction holds is skipped (it is being applied). ``NotYet`` leaves its row
    for later (one attempt counted). Any other error rolls the batch back, and then each of its
    rows is applied alone with :func:`callback_process`.
    """
    rows: list[TwilioCallback] = []
    try:
        with transaction.atomic():
            rows = list(
                TwilioCallback.objects.select_for_update(skip_locked=True)
                .filter(processed_at__isnull=True, attempts=0)
                .order_by("id")[:limit]
            )
            if not rows:
                return Drained()
            drained = _batch_apply(rows)
    except Exception:
        if not rows:
            raise  # nothing claimed (the database is down): the broker retries the drain
        logger.warning(
            "twilio inbox: a batch of %d callbacks failed; applying them one by one",
            len(rows),
            exc_info=True,
        )
        return _one_by_one([row.pk for row in rows])
    for row in rows:
        PROCESSED.labels(kind=row.kind, result="ok" if row.processed_at else "not_yet").inc()
    return drained


def _batch_apply(rows: list[TwilioCallback]) -> Drained:
    lookup = _Lookup(batch=calls_locked([row.call_sid for row in rows]))
    drained = Drained(claimed=len(rows))
    now = timezone.now()
    waiting: list[TwilioCallback] = []
    busy = lookup.batch.busy if lookup.batch is not None else frozenset()
    for row in rows:
        row.attempts = 1
        if row.call_sid in busy:
            row.last_error = "its call was held by another transaction: applied alone"
            drained.again.append((row.pk, BUSY_DELAY_MS))
            continue
        if not _batch_row_apply(row, lookup, now):
            waiting.append(row)
    # A later row of the batch may have brought the call a waiting row needs (a recording
    # stored before its call's first status callback): one more try each.
    for row in waiting:
        if not _batch_row_apply(row, lookup, now):
            drained.again.append((row.pk, NOT_YET_DELAY_MS))
    drained.applied = sum(row.processed_at is not None for row in rows)
    _outcomes_save(rows)
    return drained


def _batch_row_apply(row: TwilioCallback, lookup: _Lookup, now: datetime) -> bool:
    """Apply one row of a batch in memory; False when its call is not known yet."""
    try:
        outcome = _HANDLERS[row.kind](row, lookup)
    except NotYet as exc:  # raised before its handler wrote anything
        row.last_error = _error_text(exc)
        return False
    row.processed_at, row.outcome, row.last_error = now, outcome[:255], ""
    return True


_OUTCOME_FIELDS = ["processed_at", "outcome", "attempts", "last_error"]
# Column names from the model, values bound as arrays; one statement whatever the batch's size.
_OUTCOMES_SQL = (
    f"UPDATE {TwilioCallback._meta.db_table} AS t SET "  # noqa: S608
    + ", ".join(f"{name} = v.{name}" for name in _OUTCOME_FIELDS)
    + " FROM unnest(%s::bigint[], %s::timestamptz[], %s::text[], %s::int[], %s::text[])"
    + f" AS v(id, {', '.join(_OUTCOME_FIELDS)}) WHERE t.id = v.id"
)


def _outcomes_save(rows: list[TwilioCallback]) -> None:
    """Write a batch's outcomes: one ``UPDATE ... FROM unnest(...)`` on PostgreSQL (Django's
    ``bulk_update`` builds a CASE per field and row, costlier to compile than to run)."""
    if connection.vendor != "postgresql":
        TwilioCallback.objects.bulk_update(rows, _OUTCOME_FIELDS)
        return
    columns = [[row.pk for row in rows]] + [
        [getattr(row, name) for row in rows] for name in _OUTCOME_FIELDS
    ]
    with connection.cursor() as cursor:
        cursor.execute(_OUTCOMES_SQL, columns)


def _one_by_one(ids: list[int]) -> Drained:
    drained = Drained(claimed=len(ids))
    for callback_id in ids:
        try:
            outcome = callback_process(callback_id)
        except NotYet:
            drained.again.append((callback_id, NOT_YET_DELAY_MS))
        except Exception:
            logger.exception("twilio callback %s failed; it is retried", callback_id)
            drained.again.append((callback_id, ERROR_DELAY_MS))
        else:
            drained.applied += outcome is not None
    return drained


def callback_process(callback_id: int) -> str | None:
    """Apply one stored callback once; return its outcome (None if already processed, or
    being applied by another transaction, which then owns its outcome)."""
    try:
        with transaction.atomic():
            row = _locked_row(callback_id)
            if row is None or row.processed_at is not None:
                return None
            outcome = _HANDLERS[row.kind](row, _Lookup(sid_locked=hasattr(row, "sid_locked")))
            _finish(row, outcome)
    except NotYet as exc:
        if _failed(callback_id, exc) < MAX_ATTEMPTS:
            raise
        return _give_up(callback_id, str(exc))
    except Exception as exc:
        _failed(callback_id, exc)
        PROCESSED.labels(kind="any", result="error").inc()
        raise
    PROCESSED.labels(kind=row.kind, result="ok").inc()
    return outcome


def _locked_row(callback_id: int) -> TwilioCallback | None:
    """The row, locked, or None when another transaction holds it; on PostgreSQL its CallSid's
    lock is taken in the same statement, so call_ensure need not take it (nor read the call
    again) for a call not known yet.

    The CallSid lock is taken on the row the subquery locked. In the locking query's own select
    list PostgreSQL would evaluate it below LockRows, before SKIP LOCKED skips a row: a row a
    batch holds (with its CallSid) would be waited for, for as long as the batch runs or waits,
    instead of skipped."""
    lock = call_sid_lock_sql(f"t.{_CALL_SID_COLUMN}")
    if lock is None:
        rows = TwilioCallback.objects.select_for_update(skip_locked=True).filter(pk=callback_id)
        return rows.first()
    sql, params = lock
    locked = list(
        TwilioCallback.objects.raw(_LOCKED_ROW_SQL.format(sid_lock=sql), [*params, callback_id])
    )
    return locked[0] if locked else None


_CALL_SID_COLUMN = cast(str, TwilioCallback._meta.get_field("call_sid").column)
# Constant SQL (table and columns are the model's); the CallSid lock's SQL goes in {sid_lock}.
_LOCKED_ROW_SQL = (
    "SELECT t.*, {sid_lock} AS sid_locked FROM (SELECT * FROM "  # noqa: S608
    f"{TwilioCallback._meta.db_table} WHERE {TwilioCallback._meta.pk.column} = %s "
    "FOR UPDATE SKIP LOCKED) AS t"
)


def _finish(row: TwilioCallback, outcome: str) -> None:
    row.processed_at = timezone.now()
    row.outcome = outcome[:255]
    row.attempts += 1
    row.last_error = ""
    row.save(update_fields=["processed_at", "outcome", "attempts", "last_error"])


def _failed(callback_id: int, exc: Exception) -> int:
    with transaction.atomic():
        TwilioCallback.objects.filter(pk=callback_id, processed_at__isnull=True).update(
            attempts=F("attempts") + 1, last_error=_error_text(exc)
        )
        attempts = (
            TwilioCallback.objects.filter(pk=callback_id).values_list("attempts", flat=True).first()
        )
    return attempts or 0


def _error_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _give_up(callback_id: int, reason: str) -> str:
    outcome = f"{GAVE_UP}{MAX_ATTEMPTS} attempts: {reason}"[:255]
    TwilioCallback.objects.filter(pk=callback_id, processed_at__isnull=True).update(
        processed_at=timezone.now(), outcome=outcome
    )
    PROCESSED.labels(kind="any", result="skipped").inc()
    return outcome


def inbox_sweep(
    *, enqueue: Callable[[int], Any], min_age: timedelta = SWEEP_MIN_AGE, limit: int = 5000
) -> int:
    """Enqueue every unprocessed row older than ``min_age``; return how many."""
    ids = list(
        TwilioCallback.objects.filter(
            processed_at__isnull=True,
            verified_at__lt=timezone.now() - min_age,
            attempts__lt=MAX_ATTEMPTS,
        )
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    for callback_id in ids:
        enqueue(callback_id)
    if ids:
        logger.info("twilio inbox sweep re-enqueued %d callbacks", len(ids))
    return len(ids)


GAVE_UP = "skipped after "


def callback_requeue(ids: list[int], *, enqueue: Callable[[int], Any]) -> tuple[int, int]:
    """Give rows that were never applied another round of attempts, and enqueue them.

    For a person in the console, once the cause is mended: a row still waiting (whatever its
    attempts) or given up after ``MAX_ATTEMPTS`` gets its attempts reset and is processed again.
    A row that was applied is left alone (processing it again would change nothing). Returns
    (queued, left alone).
    """
    with transaction.atomic():
        rows = TwilioCallback.objects.select_for_update().filter(pk__in=ids)
        again = [
            row.pk for row in rows if row.processed_at is None or row.outcome.startswith(GAVE_UP)
        ]
        TwilioCallback.objects.filter(pk__in=again).update(
            processed_at=None, attempts=0, outcome=""
        )
        transaction.on_commit(lambda: _enqueue_each(again, enqueue))
    if again:
        logger.info("twilio inbox: %d callbacks queued again by hand", len(again))
    return len(again), len(ids) - len(again)


def _enqueue_each(ids: list[int], enqueue: Callable[[int], Any]) -> None:
    for callback_id in ids:
        try:
            enqueue(callback_id)
        except Exception:  # reset and committed: the sweeper enqueues it once the broker is back
            logger.exception("twilio callback %s queued again but not enqueued", callback_id)


# --- parsing Twilio's parameters --------------------------------------------------------------
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


def _direction(params: dict[str, Any]) -> str:
    raw = str(params.get("Direction") or "inbound").lower()
    return CallDirection.INBOUND if raw == "inbound" else CallDirection.OUTBOUND


def _call(row: TwilioCallback, lookup: _Lookup, status: str, **fields) -> Call | None:
    return _call_created(row, lookup, status, **fields)[0]


def _call_created(
    row: TwilioCallback, lookup: _Lookup, status: str, **fields
) -> tuple[Call | None, bool]:
    p = row.params
    return call_ensure(
        call_sid=row.call_sid,
        sid_locked=lookup.sid_locked,
        batch=lookup.batch,
        direction=_direction(p),
        from_number=str(p.get("From") or ""),
        to_number=str(p.get("To") or ""),
        status=status,
        **fields,
    )


def _reported(status: str | None, p: dict[str, Any]) -> dict[str, Any]:
    """The timing and price a status callback carries, as call_status_apply takes them."""
    at = _time(p.get("Timestamp"))
    duration = _int(p.get("CallDuration")) if status in TERMINAL else None
    start_time = at if status == CallStatus.IN_PROGRESS else None
    end_time = at if status in TERMINAL else None
    if status == CallStatus.COMPLETED and end_time and duration:
        start_time = end_time - timedelta(seconds=duration)
    price = _price(p.get("Price"))
    price_unit = str(p.get("PriceUnit") or "").upper()[:10] if price is not None else ""
    fields: dict[str, Any] = {
        "duration": duration,
        "start_time": start_time,
        "end_time": end_time,
        "price": price,
    }
    if price_unit:
        fields["price_unit"] = price_unit
    return {k: v for k, v in fields.items() if v is not None}


def _nobody(row: TwilioCallback) -> str:
    p = row.params
    number = p.get("From") if _direction(p) == CallDirection.OUTBOUND else p.get("To")
    return f"ignored: no company owns {number or 'the number'}"


# --- one handler per kind ---------------------------------------------------------------------
def _status(row: TwilioCallback, lookup: _Lookup) -> str:
    p = row.params
    raw = str(p.get("CallStatus") or "")
    status = twilio_status_map(raw)
    reported = _reported(status, p) if status else {}
    call, created = _call_created(row, lookup, status or CallStatus.INITIATED, **reported)
    if call is None:
        return _nobody(row)
    # A call created from this very callback already holds everything it reports.
    # call_ensure read the call with select_for_update in this transaction: no second read.
    changed = (created and status is not None) or call_status_apply(
        call=call, twilio_status=raw, sequence_number=row.sequence_number, locked=True, **reported
    )
    if status is None:
        return f"unknown status {raw[:40]!r}: call left unchanged"
    if status in MISSED:
        call_missed_notify(call=call, outcome=status)
    return f"{call.status}" if changed else f"no change ({call.status})"


def _incoming(row: TwilioCallback, lookup: _Lookup) -> str:
    status = twilio_status_map(str(row.params.get("CallStatus") or "")) or CallStatus.RINGING
    call = _call(row, lookup, status)
    if call is None:
        return _nobody(row)
    return f"call {call.id}"


def _dialed(row: TwilioCallback, lookup: _Lookup) -> str:
    call = _call(row, lookup, CallStatus.IN_PROGRESS)
    if call is None:
        return _nobody(row)
    dial_status = str(row.params.get("DialCallStatus") or "").lower()
    if dial_status in ("completed", "answered", "in-progress"):
        return f"answered ({dial_status})"
    outcome = CallStatus.BUSY if dial_status == "busy" else CallStatus.NO_ANSWER
    call_missed_notify(call=call, outcome=outcome)
    return f"missed ({dial_status or 'unknown'})"


def _voicemail(row: TwilioCallback, lookup: _Lookup) -> str:
    p = row.params
    call = _call(row, lookup, CallStatus.IN_PROGRESS)
    if call is None:
        return _nobody(row)
    url = str(p.get("RecordingUrl") or "")
    duration = _int(p.get("RecordingDuration")) or 0
    if not url or duration <= 0:
        return "no voicemail recorded"
    voicemail = voicemail_receive(
        call=call, recording_url=url, duration=duration, transcription=p.get("TranscriptionText")
    )
    return f"voicemail {voicemail.id}"


def _recording(row: TwilioCallback, lookup: _Lookup) -> str:
    p = row.params
    recording_status = str(p.get("RecordingStatus") or "completed").lower()
    if recording_status != "completed":
        return f"recording {recording_status}"
    if lookup.batch is not None:
        call = lookup.batch.calls.get(row.call_sid)
    else:
        call = Call.objects.select_for_update().filter(twilio_call_sid=row.call_sid).first()
    if call is None:
        # Recording callbacks carry no numbers; the call comes with a status callback that may
        # arrive later (callbacks arrive in any order). Retried until MAX_ATTEMPTS, then skipped.
        raise NotYet(f"call {row.call_sid} not known yet")
    recording = call_recording_upsert(
        call=call,
        recording_sid=str(p["RecordingSid"]),
        recording_url=str(p.get("RecordingUrl") or ""),
        duration=_int(p.get("RecordingDuration")) or 0,
    )
    return f"recording {recording.id}"


_HANDLERS: dict[str, Callable[[TwilioCallback, _Lookup], str]] = {
    CallbackKind.STATUS: _status,
    CallbackKind.INCOMING: _incoming,
    CallbackKind.DIALED: _dialed,
    CallbackKind.VOICEMAIL: _voicemail,
    CallbackKind.RECORDING: _recording,
}
