"""The relay: LISTEN for committed events on PostgreSQL, log them in commit order, fan them out.

Triggers write each event to ``hub_event_outbox`` inside the writing transaction and NOTIFY.
The relay wakes, calls ``hub_event_outbox_move`` (``hub.domain.events.sql``), which in one
statement moves every committed outbox row into ``hub_event`` and records the newest id in
``hub_relay_cursor``, and publishes the rows it got back. Rows of a transaction still open are
invisible to it, so they wait in the outbox without holding anything else back; when that
transaction commits, seconds or minutes later, its events are moved and get ids above
everything delivered so far. The log's ids are therefore in the order the relay saw commits:
a client that resumes after an id misses nothing that commits later. The only way an event is
never delivered is that its transaction rolled back.

The relay is the only writer of ``hub_event`` on PostgreSQL (one relay leads; a standby waits
on an advisory lock). After a dropped connection or a restart it publishes anything logged but
not published and carries on; a web process that missed a batch reads it from the log
(``prev``/``upto`` in each message).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import psycopg
import structlog
from django.conf import settings

from hub.domain.events import sql

log = structlog.get_logger("hub.relay")

LEADER_LOCK_KEY = 7265482
Publish = Callable[[list[dict[str, Any]], int, int], Awaitable[None]]

_MOVE = "SELECT * FROM hub_event_outbox_move(%s)"
_SELECT_LOGGED = (
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


def _row_wire(row: Sequence[Any]) -> dict[str, Any]:
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
    ) -> None:
        self.publish = publish
        self.conninfo = conninfo or database_conninfo()
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.watermark: int | None = None  # the newest log id published
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
                    await self.publish_logged(conn)
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
            "SELECT last_event_id FROM hub_relay_cursor WHERE name = %s", [sql.RELAY_CURSOR]
        )
        row = await cur.fetchone()
        if row is not None:
            # Written with each move, before the moved rows are published. A relay stopped in
            # between does not publish them again: its first message (or heartbeat) says the
            # log reached the cursor, and a web process behind that reads them from the log.
            return int(row[0])
        cur = await conn.execute("SELECT coalesce(max(id), 0) FROM hub_event")
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _serve(self, conn: psycopg.AsyncConnection, stop: asyncio.Event) -> None:
        last_published = time.monotonic()
        while not stop.is_set():
            if await self.catch_up(conn):
                last_published = time.monotonic()
            elif time.monotonic() - last_published >= self.poll_interval:
                # An empty batch when idle: a process that lost a message notices within a poll.
                await self._heartbeat()
                last_published = time.monotonic()
            # Any notification (or the timeout) means: look at the outbox again.
            async for _ in conn.notifies(timeout=self.poll_interval, stop_after=1):
                break
            # Those that came in meanwhile say the same: one look covers them all.
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

    async def catch_up(self, conn: psycopg.AsyncConnection) -> int:
        """Log and publish every committed event waiting in the outbox; return how many."""
        moved = 0
        while True:
            cur = await conn.execute(_MOVE, [self.batch_size])
            rows = await cur.fetchall()
            if rows:
                await self._publish([_row_wire(row) for row in rows])
                moved += len(rows)
            if len(rows) < self.batch_size:
                return moved

    async def publish_logged(self, conn: psycopg.AsyncConnection) -> None:
        """Publish what is in the log past the cursor (written before the outbox existed)."""
        assert self.watermark is not None
        while True:
            cur = await conn.execute(_SELECT_LOGGED, [self.watermark, self.batch_size])
            rows = await cur.fetchall()
            if rows:
                await self._publish([_row_wire(row) for row in rows])
            if len(rows) < self.batch_size:
                return

    async def _publish(self, events: list[dict[str, Any]]) -> None:
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


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
