"""The Twilio inbox (``hub_twilio_callback``): store verified callbacks, claim them for the calls
domain to apply, record what became of each, sweep what the broker missed.

- :func:`callback_store` runs in the webhook before it answers: one row per distinct callback
  (same CallSid + SequenceNumber, or the same content, is a duplicate and stores nothing).
- :func:`inbox_drain` runs in a worker: :func:`hub.domain.calls.callbacks.calls_reports_apply`
  claims the rows never tried yet, as many as a batch holds, applies them and sets their
  ``processed_at``, all in one transaction, falling back to one by one when one fails.
- :func:`callback_process` applies one row alone the same way: a failed row's retries, the
  sweeper's, and the batch's fallback. An error rolls the whole effect back; the row keeps the
  attempt count and the error and is retried, until ``MAX_ATTEMPTS``.
- :func:`inbox_sweep` returns the rows nobody processed (broker down, worker crashed), and
  :func:`callback_requeue` gives rows another round by hand.

The calls domain owns the transactions and the CallSid locks; this module is the table's side
of them (:class:`TwilioInbox`: claiming rows, parsing them, recording outcomes).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from prometheus_client import Counter

from hub.domain.calls.callbacks import (
    Drained,
    NotYet,
    SidLock,
    call_report_apply,
    calls_reports_apply,
    error_text,
)
from hub.domain.calls.reports import CallReport
from hub.integrations.twilio.models import TwilioCallback
from hub.integrations.twilio.parse import callback_report

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
GAVE_UP = "skipped after "


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


class TwilioInbox:
    """The inbox's side of applying its rows (a ``ReportStore`` of the calls domain)."""

    def claim(self, limit: int) -> list[TwilioCallback]:
        return list(
            TwilioCallback.objects.select_for_update(skip_locked=True)
            .filter(processed_at__isnull=True, attempts=0)
            .order_by("id")[:limit]
        )

    def claim_one(self, pk: int, sid_lock: SidLock) -> TwilioCallback | None:
        """The row, locked, or None when another transaction holds it (or it was applied
        already); on PostgreSQL its CallSid's lock is taken in the same statement, so the call
        need not be read twice.

        The CallSid lock is taken on the row the subquery locked. In the locking query's own
        select list PostgreSQL would evaluate it below LockRows, before SKIP LOCKED skips a row:
        a row a batch holds (with its CallSid) would be waited for, for as long as the batch
        runs or waits, instead of skipped."""
        lock = sid_lock(f"t.{_CALL_SID_COLUMN}")
        if lock is None:
            rows = TwilioCallback.objects.select_for_update(skip_locked=True).filter(pk=pk)
            row = rows.first()
        else:
            sql, params = lock
            locked = list(
                TwilioCallback.objects.raw(_LOCKED_ROW_SQL.format(sid_lock=sql), [*params, pk])
            )
            row = locked[0] if locked else None
        return row if row is not None and row.processed_at is None else None

    def report(self, row: TwilioCallback) -> CallReport:
        return callback_report(row)

    def record(self, outcomes: list[tuple[TwilioCallback, str | None, str]]) -> None:
        now = timezone.now()
        for row, outcome, error in outcomes:
            row.attempts = 1
            row.last_error = error
            if outcome is not None:
                row.processed_at, row.outcome = now, outcome[:255]
        _outcomes_save([row for row, _, _ in outcomes])
        kinds = [
            (row.kind, "ok" if outcome is not None else "not_yet") for row, outcome, _ in outcomes
        ]
        transaction.on_commit(lambda: _count(kinds))

    def record_one(self, row: TwilioCallback, outcome: str) -> None:
        row.processed_at = timezone.now()
        row.outcome = outcome[:255]
        row.attempts += 1
        row.last_error = ""
        row.save(update_fields=["processed_at", "outcome", "attempts", "last_error"])

    def process(self, pk: int) -> str | None:
        return callback_process(pk)


_INBOX = TwilioInbox()


def _count(kinds: list[tuple[str, str]]) -> None:
    for kind, result in kinds:
        PROCESSED.labels(kind=kind, result=result).inc()


def inbox_drain(*, limit: int) -> Drained:
    """Apply up to ``limit`` rows never tried yet, oldest first, in one transaction.

    A row another transaction holds is skipped (it is being applied). A row whose call is not
    known yet is left for later (one attempt counted). Any other error rolls the batch back,
    and then each of its rows is applied alone with :func:`callback_process`.
    """
    return calls_reports_apply(_INBOX, limit=limit)


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


def callback_process(callback_id: int) -> str | None:
    """Apply one stored callback once; return its outcome (None if already processed, or
    being applied by another transaction, which then owns its outcome)."""
    try:
        applied = call_report_apply(_INBOX, callback_id)
    except NotYet as exc:
        if _failed(callback_id, exc) < MAX_ATTEMPTS:
            raise
        return _give_up(callback_id, str(exc))
    except Exception as exc:
        _failed(callback_id, exc)
        PROCESSED.labels(kind="any", result="error").inc()
        raise
    if applied is None:
        return None
    row, outcome = applied
    PROCESSED.labels(kind=row.kind, result="ok").inc()
    return outcome


_CALL_SID_COLUMN = cast(str, TwilioCallback._meta.get_field("call_sid").column)
# Constant SQL (table and columns are the model's); the CallSid lock's SQL goes in {sid_lock}.
_LOCKED_ROW_SQL = (
    "SELECT t.*, {sid_lock} AS sid_locked FROM (SELECT * FROM "  # noqa: S608
    f"{TwilioCallback._meta.db_table} WHERE {TwilioCallback._meta.pk.column} = %s "
    "FOR UPDATE SKIP LOCKED) AS t"
)


def _failed(callback_id: int, exc: Exception) -> int:
    with transaction.atomic():
        TwilioCallback.objects.filter(pk=callback_id, processed_at__isnull=True).update(
            attempts=F("attempts") + 1, last_error=error_text(exc)
        )
        attempts = (
            TwilioCallback.objects.filter(pk=callback_id).values_list("attempts", flat=True).first()
        )
    return attempts or 0


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
