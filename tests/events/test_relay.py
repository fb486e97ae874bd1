"""The relay against real PostgreSQL: commit-order gaps, rollbacks, reconnects."""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
import pytest

from hub.consumers.relay import Relay
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

INSERT = (
    "INSERT INTO notifications_notification (id, user_id, title, message, type, is_read, created_at) "
    "VALUES (gen_random_uuid(), %s, %s, 'm', 'info', false, now())"
)


class Collector:
    def __init__(self) -> None:
        self.batches: list[tuple[list[int], int, int]] = []
        self.changed = asyncio.Event()

    async def __call__(self, events, prev, upto):
        self.batches.append(([e["id"] for e in events], prev, upto))
        self.changed.set()

    @property
    def ids(self) -> list[int]:
        return [i for batch in self.batches for i in batch[0]]

    async def wait_for(self, count: int, timeout: float = 10) -> list[int]:
        async def until():
            while len(self.ids) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), timeout)
        return self.ids


def _make_user():
    from django.db import connections

    try:
        return factories.UserFactory()
    finally:
        connections.close_all()  # this worker thread's connection must not outlive the test


def _event_id(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT max(id) FROM hub_event").fetchone()[0]


async def _relay_at_start(conninfo, collector, **kwargs) -> tuple[Relay, psycopg.AsyncConnection]:
    relay = Relay(publish=collector, conninfo=conninfo, **kwargs)
    aconn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    relay.watermark = await relay._start_position(aconn)
    return relay, aconn


async def test_a_later_commit_is_held_until_the_earlier_transaction_finishes(conninfo):
    user = await asyncio.to_thread(_make_user)
    collector = Collector()
    relay, aconn = await _relay_at_start(conninfo, collector)
    t1 = await asyncio.to_thread(psycopg.connect, conninfo)
    t2 = await asyncio.to_thread(psycopg.connect, conninfo)
    try:
        await asyncio.to_thread(t1.execute, INSERT, [user.id, "first (commits last)"])
        first = await asyncio.to_thread(_event_id, t1)
        await asyncio.to_thread(t2.execute, INSERT, [user.id, "second (commits first)"])
        second = await asyncio.to_thread(_event_id, t2)
        assert second > first
        await asyncio.to_thread(t2.commit)

        held = await relay.catch_up(aconn)
        assert held is True
        assert collector.ids == []  # 'second' is committed but must wait for 'first'

        await asyncio.to_thread(t1.commit)
        held = await relay.catch_up(aconn)
        assert held is False
        assert collector.ids == [first, second]
    finally:
        t1.close()
        t2.close()
        await aconn.close()


async def test_a_rolled_back_id_is_skipped_once_no_writer_is_in_flight(conninfo):
    user = await asyncio.to_thread(_make_user)
    collector = Collector()
    relay, aconn = await _relay_at_start(conninfo, collector)
    t1 = await asyncio.to_thread(psycopg.connect, conninfo)
    t2 = await asyncio.to_thread(psycopg.connect, conninfo)
    try:
        await asyncio.to_thread(t1.execute, INSERT, [user.id, "rolled back"])
        await asyncio.to_thread(t2.execute, INSERT, [user.id, "kept"])
        kept = await asyncio.to_thread(_event_id, t2)
        await asyncio.to_thread(t2.commit)
        assert await relay.catch_up(aconn) is True
        await asyncio.to_thread(t1.rollback)
        assert await relay.catch_up(aconn) is False
        assert collector.ids == [kept]
    finally:
        t1.close()
        t2.close()
        await aconn.close()


async def test_relay_reconnects_after_losing_the_database_and_loses_nothing(conninfo):
    user = await asyncio.to_thread(_make_user)
    collector = Collector()
    relay = Relay(publish=collector, conninfo=conninfo, poll_interval=0.1)
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(relay.run(stop))
    admin = await asyncio.to_thread(psycopg.connect, conninfo, autocommit=True)
    try:
        await asyncio.wait_for(relay.connected.wait(), 10)
        await asyncio.to_thread(admin.execute, INSERT, [user.id, "before"])
        await collector.wait_for(1)
        await asyncio.to_thread(
            admin.execute,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hub-relay' AND datname = current_database() AND pid <> pg_backend_pid()",
        )
        for n in range(3):
            await asyncio.to_thread(admin.execute, INSERT, [user.id, f"during {n}"])
        ids = await collector.wait_for(4)
        expected = [
            r[0]
            for r in await asyncio.to_thread(
                lambda: admin.execute("SELECT id FROM hub_event ORDER BY id").fetchall()
            )
        ]
        assert ids == expected  # every event once, in order
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        admin.close()


async def test_publish_failures_are_retried_not_dropped(conninfo):
    user = await asyncio.to_thread(_make_user)
    calls = {"n": 0}
    collector = Collector()

    async def flaky(events, prev, upto):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ConnectionError("redis is away")
        await collector(events, prev, upto)

    relay, aconn = await _relay_at_start(conninfo, flaky)
    admin = await asyncio.to_thread(psycopg.connect, conninfo, autocommit=True)
    try:
        await asyncio.to_thread(admin.execute, INSERT, [user.id, "x"])
        await relay.catch_up(aconn)
        assert calls["n"] == 3
        assert len(collector.ids) == 1
        stored = await asyncio.to_thread(
            lambda: admin.execute("SELECT last_event_id FROM hub_relay_cursor").fetchone()[0]
        )
        assert stored == collector.ids[0]
    finally:
        admin.close()
        await aconn.close()
