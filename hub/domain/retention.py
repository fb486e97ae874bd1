"""Deleting old rows a small batch at a time: the loop the retention services share.

Each batch is one short transaction that deletes at most ``batch_size`` rows, the oldest ids
first: ``DELETE ... WHERE id IN (SELECT id ... ORDER BY id LIMIT n)``. A DELETE locks only the
rows it removes (and takes ROW EXCLUSIVE on the table, which inserts share), so writers adding
rows never wait for it, and no batch holds its locks for long. On PostgreSQL the batch skips
rows another transaction holds (``SKIP LOCKED``): a prune waits for nobody, and two prunes at
once share the work instead of queueing behind each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction


@dataclass
class Pruned:
    """What one prune did to one table (a dry run: what it would do)."""

    table: str
    deleted: int = 0
    # Rows deleted by each batch, in order (a dry run has none).
    batches: list[int] = field(default_factory=list)
    # The run stopped at its cap (``max_rows``): more old rows may be left for the next one.
    capped: bool = False
    dry_run: bool = False


def rows_prune(
    *,
    table: str,
    where: str,
    params: Sequence[Any],
    batch_size: int,
    max_rows: int,
    dry_run: bool = False,
    in_batch: Callable[[list[int]], None] | None = None,
    progress: Callable[[Pruned], None] | None = None,
) -> Pruned:
    """Delete the rows of ``table`` matching ``where``, a batch per transaction, up to ``max_rows``.

    ``table`` and ``where`` are the caller's constants, never input; values go in ``params``.
    ``in_batch`` runs inside each batch's transaction with the ids it deleted; ``progress``
    runs after each batch has committed.
    """
    pruned = Pruned(table=table, dry_run=dry_run)
    if dry_run:
        pruned.deleted = _count(table, where, params, max_rows)
        pruned.capped = pruned.deleted >= max_rows
        return pruned
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    sql = (
        f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where} "  # noqa: S608
        f"ORDER BY id LIMIT %s{skip_locked}) RETURNING id"
    )
    while pruned.deleted < max_rows:
        limit = min(batch_size, max_rows - pruned.deleted)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, [*params, limit])
                ids = [row[0] for row in cursor.fetchall()]
            if ids and in_batch is not None:
                in_batch(ids)
        if ids:
            pruned.deleted += len(ids)
            pruned.batches.append(len(ids))
            if progress is not None:
                progress(pruned)
        if len(ids) < limit:
            return pruned
    pruned.capped = True
    return pruned


def _count(table: str, where: str, params: Sequence[Any], cap: int) -> int:
    sql = f"SELECT count(*) FROM (SELECT id FROM {table} WHERE {where} LIMIT %s) AS t"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, cap])
        return int(cursor.fetchone()[0])


def table_size_bytes(table: str) -> int | None:
    """The table's size on disk with its indexes and TOAST; None off PostgreSQL.

    SQLite has no cheap equivalent (its ``dbstat`` table is an optional build), and a row count
    would be a different quantity under the same name, so there is none.
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size(%s::regclass)", [table])
        return int(cursor.fetchone()[0])
