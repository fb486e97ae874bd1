"""The hub's advisory locks (PostgreSQL): every shape of their SQL is written here, once.

Two classes of two-key ``pg_advisory_xact_lock`` locks, held until the transaction ends:

- the **CallSid lock** serializes creating the call of one CallSid: whoever holds it reads the
  call and, when there is none, creates it. Taken alone (:func:`call_sid_lock`), along with the
  row that names the CallSid (:func:`call_sid_lock_sql`), or for a batch's CallSids at once
  (:func:`call_sids_lock`);
- the **phone-number lock** serializes the claims on one number (:func:`phone_number_lock`).

On SQLite there is nothing to take: its transactions are IMMEDIATE, writers are serialized
already. Each function says so by what it returns.
"""

from __future__ import annotations

import logging

from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

# First keys of the two-key locks; the second is hashtext() of the CallSid or the number.
CALL_SID_LOCK_CLASS = 0x7C411
PHONE_NUMBER_LOCK_CLASS = 0x7C412

# How long a batch waits for the CallSid locks another batch or job holds (they hold them for
# milliseconds); past it, those CallSids are busy and their rows are applied alone.
BATCH_LOCK_WAIT_MS = 500


def _lock(function: str, key: str) -> str:
    """The one lock expression: ``function`` (pg_advisory_xact_lock or its try_ form) on a lock
    class (the first parameter) and the hash of the SQL expression ``key``."""
    return f"{function}(%s, hashtext({key}))"


# Every statement taking a lock; constant SQL, built once (no input in it).
_LOCK_ONE_SQL = f"SELECT {_lock('pg_advisory_xact_lock', '%s')}"
_TRY_MANY_SQL = (
    "SELECT sid FROM unnest(%s::text[]) AS sid "  # noqa: S608
    f"WHERE NOT {_lock('pg_try_advisory_xact_lock', 'sid')}"
)
_WAIT_MANY_SQL = (
    f"SELECT {_lock('pg_advisory_xact_lock', 'sid')} FROM "  # noqa: S608
    "(SELECT sid FROM unnest(%s::text[]) AS sid ORDER BY hashtext(sid)) AS sids"
)


def _takes_locks() -> bool:
    return connection.vendor == "postgresql"


def call_sid_lock(call_sid: str) -> bool:
    """Take the CallSid's lock (until commit); False where no lock is needed (SQLite)."""
    if not _takes_locks():
        return False
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_ONE_SQL, [CALL_SID_LOCK_CLASS, call_sid])
    return True


def call_sid_lock_sql(column: str) -> tuple[str, tuple[int]] | None:
    """SQL taking the CallSid lock of ``column``'s value, to read along with a row, and its
    parameters; None where no lock is needed (SQLite).

    Read it over the rows a ``FOR UPDATE`` subquery returns, not in the select list of the
    locking query itself: PostgreSQL evaluates that list below LockRows, so the lock would be
    waited for even on a row that ``SKIP LOCKED`` then skips.
    """
    if not _takes_locks():
        return None
    # ``column`` comes from the caller's model, never from a request.
    return _lock("pg_advisory_xact_lock", column), (CALL_SID_LOCK_CLASS,)


def call_sids_lock(call_sids: list[str]) -> set[str]:
    """Take the locks of ``call_sids``; return those another transaction still holds (busy).

    The locks free now are taken at once. Those another transaction holds (another batch, a
    job applying one callback) are waited for, in key order, at most ``BATCH_LOCK_WAIT_MS``.
    """
    if not _takes_locks():
        return set()
    with connection.cursor() as cursor:
        cursor.execute(_TRY_MANY_SQL, [sorted(set(call_sids)), CALL_SID_LOCK_CLASS])
        busy = {row[0] for row in cursor.fetchall()}
    return _call_sids_wait(sorted(busy)) if busy else set()


def _call_sids_wait(sids: list[str]) -> set[str]:
    """Wait a little for CallSid locks others hold; return those still not ours.

    In a savepoint: a lock that times out (or two batches waiting on each other) rolls back
    only the wait, and the batch goes on without those CallSids.
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {int(BATCH_LOCK_WAIT_MS)}")
            cursor.execute(_WAIT_MANY_SQL, [CALL_SID_LOCK_CLASS, sids])
            cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
    except OperationalError:
        logger.info("CallSid locks still held after %d ms: applied alone", BATCH_LOCK_WAIT_MS)
        return set(sids)
    return set()


def phone_number_lock(phone_number: str) -> None:
    """Serialize the claims on one E.164 number until commit (nothing to do on SQLite)."""
    if not _takes_locks():
        return
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_ONE_SQL, [PHONE_NUMBER_LOCK_CLASS, phone_number])
