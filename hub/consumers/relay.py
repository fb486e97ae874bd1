"""The relay: LISTEN for new hub_event rows on PostgreSQL and fan them out in id order.

Ids come from a sequence, and a sequence is not commit-ordered: the transaction holding id 10
may commit after the one holding 11. The relay therefore delivers only a gap-free prefix of
the log. At a gap it asks whether any writer is still in flight (every writer holds a shared
advisory lock until it commits; see ``sql.WRITER_LOCK_KEY``): while one is, the gap may still
fill and delivery waits; once none is, every id up to the sequence's current value is final
and the gap is skipped. A gap older than ``gap_timeout`` is skipped regardless (and logged).

After a dropped connection the relay reconnects and catches up from its watermark, which is
stored in ``hub_relay_cursor`` after each published batch, so a restart loses nothing either.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import structlog
from django.conf import settings

from hub.domain.events import sql
from hub.domain.events.selectors import RELAY_CURSOR

log = structlog.get_logger("hub.relay")

LEADER_LOCK_KEY = 7265482
Publish = Callable[[list[dict[str, Any]], int, int], Awaitable[None]]

_SELECT = (
    "SELECT id, company_id, audience, user_id, topic, type, payload FROM hub_event "
    "WHERE id > %s ORDER BY id LIMIT %s"
)


def database_conninfo() -> str:
    db = settings.DATABASES["default"]
    params = {
        "dbname": db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": str(db["PORT"]) if db.get("PORT") else None,
        "application_name": "hub-relay",
    }
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v is not None})


def _row_wire(row: tuple) -> dict[str, Any]:
    payload = row[6]
    if isinstance(payload, str):
        payload = json.loads(payload)
    return {
        "id": row[0],
        "company_id": row[1],
        "audience": row[2],
        "user_id": row[3],
        "topic": row[4],
        "type": row[5],
        "payload": payload,
    }


class Relay:
    def __init__(
        self,
        *,
        publish: Publish,
        conninfo: str | None = None,
        batch_size: int = 1000,
        poll_interval: float = 1.0,
        gap_timeout: float = 10.0,
        gap_retry: float = 0.01,
    ) -> None:
        self.publish = publish
        self.conninfo = conninfo or database_conninfo()
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.gap_timeout = gap_timeout
        self.gap_retry = gap_retry
        self.watermark: int | None = None
        self.final_upto = 0  # every id <= this is committed or gone for good
        self._gap_since: dict[int, float] = {}
        self.connected = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True
                ) as conn:
                    await self._lead(conn, stop)
                    backoff = 0.2
                    await conn.execute(f"LISTEN {sql.NOTIFY_CHANNEL}")
                    if self.watermark is None:
                        self.watermark = await self._start_position(conn)
                    log.info("relay listening", watermark=self.watermark)
                    self.connected.set()
                    await self._serve(conn, stop)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                self.connected.clear()
                log.warning(
                    "relay lost the database; reconnecting", error=str(exc), retry_in=backoff
                )
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 5.0)

    async def _lead(self, conn: psycopg.AsyncConnection, stop: asyncio.Event) -> None:
        """Wait until this relay is the only one publishing (a standby takes over on failure)."""
        while not stop.is_set():
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", [LEADER_LOCK_KEY])
            row = await cur.fetchone()
            if row and row[0]:
                return
            await _sleep_or_stop(stop, 1.0)

    async def _start_position(self, conn: psycopg.AsyncConnection) -> int:
        cur = await conn.execute(
            "SELECT last_event_id FROM hub_relay_cursor WHERE name = %s", [RELAY_CURSOR]
        )
        row = await cur.fetchone()
        if row is not None:
            return int(row[0])
        cur = await conn.execute("SELECT coalesce(max(id), 0) FROM hub_event")
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _serve(self, conn: psycopg.AsyncConnection, stop: asyncio.Event) -> None:
        last_published = time.monotonic()
        while not stop.is_set():
            before = self.watermark
            held = await self.catch_up(conn)
            if self.watermark != before:
                last_published = time.monotonic()
            elif time.monotonic() - last_published >= self.poll_interval:
                # An empty batch when idle: a process that lost a message notices within a poll.
                await self._heartbeat()
                last_published = time.monotonic()
            timeout = self.gap_retry if held else self.poll_interval
            # Any notification (or the timeout) means: look at the log again.
            async for _ in conn.notifies(timeout=timeout, stop_after=1):
                break
            # Those that came in meanwhile (a transaction writing many events sends one each)
            # say the same: one look covers them all, instead of one empty look each.
            async for _ in conn.notifies(timeout=0):
                pass
            if stop.is_set():
                return

    async def _heartbeat(self) -> None:
        assert self.watermark is not None
        try:
            await self.publish([], self.watermark, self.watermark)
        except Exception as exc:
            log.info("relay heartbeat not published", error=repr(exc))

    async def catch_up(self, conn: psycopg.AsyncConnection) -> bool:
        """Publish every deliverable event; return True when delivery waits at a gap."""
        assert self.watermark is not None
        while True:
            cur = await conn.execute(_SELECT, [self.watermark, self.batch_size])
            rows = await cur.fetchall()
            deliverable: list[dict[str, Any]] = []
            expected = self.watermark + 1
            held = False
            for row in rows:
                if row[0] != expected and not await self._gap_is_final(conn, expected, row[0]):
                    held = True
                    break
                deliverable.append(_row_wire(row))
                expected = row[0] + 1
            if deliverable:
                await self._publish(conn, deliverable)
            if held:
                return True
            if len(rows) < self.batch_size:
                return False

    async def _gap_is_final(
        self, conn: psycopg.AsyncConnection, first_missing: int, next_id: int
    ) -> bool:
        if next_id - 1 <= self.final_upto:
            return True
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", [sql.WRITER_LOCK_KEY])
        row = await cur.fetchone()
        if row and row[0]:
            try:
                # No writer is in flight: every id handed out so far is committed or gone.
                cur = await conn.execute("SELECT last_value FROM hub_event_id_seq")
                seq = await cur.fetchone()
                self.final_upto = int(seq[0]) if seq else 0
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", [sql.WRITER_LOCK_KEY])
            self._gap_since.clear()
            # Re-read: rows inside the gap may have committed before the lock was granted.
            cur = await conn.execute(
                "SELECT 1 FROM hub_event WHERE id >= %s AND id < %s LIMIT 1",
                [first_missing, next_id],
            )
            return not await cur.fetchone()
        since = self._gap_since.setdefault(first_missing, time.monotonic())
        if time.monotonic() - since > self.gap_timeout:
            log.warning(
                "relay skipped an event id held longer than the gap timeout", event_id=first_missing
            )
            self._gap_since.pop(first_missing, None)
            return True
        return False

    async def _publish(self, conn: psycopg.AsyncConnection, events: list[dict[str, Any]]) -> None:
        assert self.watermark is not None
        prev, upto = self.watermark, events[-1]["id"]
        backoff = 0.1
        while True:
            try:
                await self.publish(events, prev, upto)
                break
            except Exception as exc:
                log.warning("relay could not publish; retrying", error=repr(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        self.watermark = upto
        await conn.execute(
            "INSERT INTO hub_relay_cursor (name, last_event_id, updated_at) VALUES (%s, %s, now()) "
            "ON CONFLICT (name) DO UPDATE SET last_event_id = EXCLUDED.last_event_id, updated_at = now()",
            [RELAY_CURSOR, upto],
        )


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
