"""The relay against real PostgreSQL: commit order without waiting, rollbacks, restarts, reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

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
        self.batches: list[tuple[list[dict], int, int]] = []
        self.changed = asyncio.Event()

    async def __call__(self, events, prev, upto):
        self.batches.append((list(events), prev, upto))
        self.changed.set()

    @property
    def events(self) -> list[dict]:
        return [e for batch in self.batches for e in batch[0]]

    @property
    def ids(self) -> list[int]:
        return [e["id"] for e in self.events]

    @property
    def titles(self) -> list[str]:
        return [e["payload"]["title"] for e in self.events]

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


async def _relay_at_start(conninfo, collector, **kwargs) -> tuple[Relay, psycopg.AsyncConnection]:
    relay = Relay(publish=collector, conninfo=conninfo, **kwargs)
    aconn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    relay.watermark = await relay._start_position(aconn)
    return relay, aconn


async def _open(conninfo, count: int) -> list[psycopg.Connection]:
    return [await asyncio.to_thread(psycopg.connect, conninfo) for _ in range(count)]


async def _query(conninfo, statement: str, params=()) -> list[tuple]:
    def run():
        with psycopg.connect(conninfo, autocommit=True) as conn:
            return conn.execute(statement, params).fetchall()

    return await asyncio.to_thread(run)


async def test_a_commit_is_published_at_once_while_an_earlier_transaction_is_open(conninfo):
    user = await asyncio.to_thread(_make_user)
    collector = Collector()
    relay, aconn = await _relay_at_start(conninfo, collector)
    t1, t2 = await _open(conninfo, 2)
    try:
        await asyncio.to_thread(t1.execute, INSERT, [user.id, "first (commits last)"])
        await asyncio.to_thread(t2.execute, INSERT, [user.id, "second (commits first)"])
        await asyncio.to_thread(t2.commit)

        assert await relay.catch_up(aconn) == 1
        assert collector.titles == ["second (commits first)"]  # t1 still open holds nothing up

        await asyncio.to_thread(t1.commit)
        assert await relay.catch_up(aconn) == 1
        assert collector.titles == ["second (commits first)", "first (commits last)"]
        assert collector.ids == sorted(collector.ids) and len(set(collector.ids)) == 2
        # Every batch follows the one before: what a web process checks to find a lost message.
        assert collector.batches[1][1] == collector.batches[0][2]
    finally:
        t1.close()
        t2.close()
        await aconn.close()


@pytest.mark.parametrize(
    "order",
    [*itertools.permutations(range(2)), *itertools.permutations(range(3))],
    ids=lambda order: "commit-" + "".join(str(i) for i in order),
)
async def test_overlapping_transactions_are_published_in_commit_order(conninfo, order):
    """All transactions write first (ids asked for in order 0, 1, 2), then commit in ``order``."""
    user = await asyncio.to_thread(_make_user)
    collector = Collector()
    relay, aconn = await _relay_at_start(conninfo, collector)
    txs = await _open(conninfo, len(order))
    try:
        for n, tx in enumerate(txs):
            await asyncio.to_thread(tx.execute, INSERT, [user.id, f"t{n}"])
        assert await relay.catch_up(aconn) == 0  # nothing committed, nothing published
        for n in order:
            await asyncio.to_thread(txs[n].commit)
            # Published as soon as it commits, whatever is still open.
            assert await relay.catch_up(aconn) == 1
            assert collector.titles[-1] == f"t{n}"
        assert collector.titles == [f"t{n}" for n in order]
        assert collector.ids == sorted(collector.ids)
        logged = await _query(conninfo, "SELECT id FROM hub_event ORDER BY id")
        assert [row[0] for row in logged][-len(order) :] == collector.ids
        assert await _query(conninfo, "SELECT count(*) FROM hub_event_outbox") == [(0,)]
    finally:
        for tx in txs:
            tx.close()
        await aconn.close()


async def test_a_rollback_between_commits_is_never_published_and_holds_nothing(conninfo):
    user = await asyncio.to_thread(_make_user)
    collector = Collector()
    relay, aconn = await _relay_at_start(conninfo, collector)
    t1, t2, t3 = await _open(conninfo, 3)
    try:
        await asyncio.to_thread(t1.execute, INSERT, [user.id, "rolled back"])
        await asyncio.to_thread(t2.execute, INSERT, [user.id, "kept"])
        await asyncio.to_thread(t2.commit)
        assert await relay.catch_up(aconn) == 1
        await asyncio.to_thread(t1.rollback)
        assert await relay.catch_up(aconn) == 0
        await asyncio.to_thread(t3.execute, INSERT, [user.id, "after"])
        await asyncio.to_thread(t3.commit)
        assert await relay.catch_up(aconn) == 1
        assert collector.titles == ["kept", "after"]
        assert await _query(conninfo, "SELECT count(*) FROM hub_event_outbox") == [(0,)]
    finally:
        for tx in (t1, t2, t3):
            tx.close()
        await aconn.close()


async def test_relay_restart_while_a_transaction_is_open_loses_and_repeats_nothing(conninfo):
    user = await asyncio.to_thread(_make_user)
    first, second = Collector(), Collector()
    t1, t2 = await _open(conninfo, 2)
    stop = asyncio.Event()
    relay = Relay(publish=first, conninfo=conninfo, poll_interval=0.1)
    task = asyncio.get_running_loop().create_task(relay.run(stop))
    try:
        await asyncio.wait_for(relay.connected.wait(), 10)
        await asyncio.to_thread(t1.execute, INSERT, [user.id, "open across the restart"])
        await asyncio.to_thread(t2.execute, INSERT, [user.id, "before the restart"])
        await asyncio.to_thread(t2.commit)
        await first.wait_for(1)
        stop.set()
        await asyncio.wait_for(task, 10)

        await asyncio.to_thread(t1.commit)  # while no relay runs
        stop = asyncio.Event()
        relay = Relay(publish=second, conninfo=conninfo, poll_interval=0.1)
        task = asyncio.get_running_loop().create_task(relay.run(stop))
        await second.wait_for(1)
        assert second.titles == ["open across the restart"]
        assert second.ids[0] > first.ids[0]
        # The new relay's first batch follows what the old one published: no gap, no repeat.
        assert second.batches[0][1] == first.ids[0]
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        t1.close()
        t2.close()


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
        assert collector.titles == ["before", "during 0", "during 1", "during 2"]
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


async def test_events_logged_before_the_outbox_are_published_at_start(conninfo):
    """Rows already in hub_event past the cursor (an upgrade from the old relay) go out first."""
    user = await asyncio.to_thread(_make_user)
    collector = Collector()
    [(old_id,)] = await _query(
        conninfo,
        "INSERT INTO hub_event (company_id, audience, user_id, topic, type, payload, created_at) "
        "VALUES (NULL, 'user', %s, 'notifications', 'notification.created', "
        '\'{"title": "old"}\', now()) RETURNING id',
        [user.id],
    )
    await _query(
        conninfo,
        "INSERT INTO hub_relay_cursor (name, last_event_id, updated_at) VALUES ('relay', %s, now()) "
        "ON CONFLICT (name) DO UPDATE SET last_event_id = EXCLUDED.last_event_id RETURNING 1",
        [old_id - 1],
    )
    stop = asyncio.Event()
    relay = Relay(publish=collector, conninfo=conninfo, poll_interval=0.1)
    task = asyncio.get_running_loop().create_task(relay.run(stop))
    admin = await asyncio.to_thread(psycopg.connect, conninfo, autocommit=True)
    try:
        await asyncio.wait_for(relay.connected.wait(), 10)
        await asyncio.to_thread(admin.execute, INSERT, [user.id, "new"])
        await collector.wait_for(2)
        assert collector.titles == ["old", "new"]
        assert collector.ids == sorted(collector.ids)
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        admin.close()
