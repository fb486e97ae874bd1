"""The ops feed over /ws/: superusers subscribe to the operations figures; presence per company."""

from __future__ import annotations

import asyncio

import pytest
import structlog
from channels.db import database_sync_to_async

from hub.consumers.dispatcher import dispatcher
from hub.consumers.ops_feed import PROCESS, presence_count
from hub.domain.authentication.services import company_user_add
from hub.domain.events.audience import Viewer
from hub.ops import health
from hub.ops.models import WebPresence
from tests import factories
from tests.realtime.helpers import communicator, connect_as

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_ops(settings):
    settings.HUB_OPS_REFRESH_SECONDS = 0.1
    settings.HUB_OPS_PRESENCE_SECONDS = 0.1


@database_sync_to_async
def make_superuser():
    return factories.UserFactory(is_superuser=True, is_staff=True)


@database_sync_to_async
def make_member(*companies):
    user = factories.UserFactory(is_staff=True)
    for company in companies:
        company_user_add(company=company, user=user, role="ceo")
    return user


@database_sync_to_async
def make_company():
    return factories.CompanyFactory()


async def next_of(comm, kind: str, timeout: float = 5) -> dict:
    """The next frame of type ``kind`` (others, e.g. ops frames still coming, are passed over)."""
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame["type"] == kind:
            return frame


async def until(condition, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_a_superuser_gets_the_figures_at_once_and_then_every_round():
    root = await make_superuser()
    comm, _ = await connect_as(root.id)
    await comm.send_json_to({"type": "ops.subscribe", "ref": "s1"})
    assert await comm.receive_json_from(timeout=5) == {
        "type": "ack",
        "action": "ops.subscribe",
        "ref": "s1",
    }
    first = await comm.receive_json_from(timeout=5)
    assert first["type"] == "ops"
    assert set(first["data"]) >= {"generated_at", "clients", "events", "relay", "queues"}
    second = await comm.receive_json_from(timeout=5)
    assert second["type"] == "ops"
    assert second["data"]["generated_at"] > first["data"]["generated_at"]
    await comm.disconnect()


async def test_one_snapshot_per_round_is_shared_by_every_subscriber():
    roots = [await make_superuser(), await make_superuser()]
    comms = [(await connect_as(root.id))[0] for root in roots]
    for comm in comms:
        await comm.send_json_to({"type": "ops.subscribe"})
        await next_of(comm, "ops")
    await until(lambda: len(dispatcher.ops.subscribers) == 2)
    # The next round: both get the same snapshot (a computation per connection would differ
    # in its generated_at at least).
    rounds = [await next_of(comm, "ops") for comm in comms]
    while rounds[0]["data"]["generated_at"] != rounds[1]["data"]["generated_at"]:
        # One of them was still taking the round it subscribed in: take the next of the later.
        late = 0 if rounds[0]["data"]["generated_at"] < rounds[1]["data"]["generated_at"] else 1
        rounds[late] = await next_of(comms[late], "ops")
    assert rounds[0]["data"] == rounds[1]["data"]
    for comm in comms:
        await comm.disconnect()


async def test_staff_is_refused_with_forbidden_and_stays_connected():
    member = await make_member(await make_company())
    comm, _ = await connect_as(member.id)
    await comm.send_json_to({"type": "ops.subscribe", "ref": 7})
    error = await comm.receive_json_from(timeout=5)
    assert error["type"] == "error"
    assert error["code"] == "forbidden"
    assert error["ref"] == 7
    assert dispatcher.ops.subscribers == set()
    await comm.send_json_to({"type": "ping", "ref": "p"})
    assert await comm.receive_json_from(timeout=5) == {"type": "pong", "ref": "p"}
    await comm.disconnect()


async def test_before_authenticating_it_is_auth_required():
    comm = communicator()
    await comm.connect()
    await comm.send_json_to({"type": "ops.subscribe"})
    error = await comm.receive_json_from(timeout=5)
    assert (error["type"], error["code"]) == ("error", "auth_required")
    await comm.disconnect()


async def test_unsubscribe_stops_the_frames_and_the_feed():
    root = await make_superuser()
    comm, _ = await connect_as(root.id)
    await comm.send_json_to({"type": "ops.subscribe"})
    await next_of(comm, "ops")
    await comm.send_json_to({"type": "ops.unsubscribe", "ref": "u"})
    ack = await next_of(comm, "ack")
    assert ack == {"type": "ack", "action": "ops.unsubscribe", "ref": "u"}
    # Nobody is subscribed: the feed's task ends after its round.
    await until(lambda: dispatcher.ops._task is None)
    # Nothing came between the ack and the ping's answer.
    await comm.send_json_to({"type": "ping", "ref": "after"})
    assert await comm.receive_json_from(timeout=5) == {"type": "pong", "ref": "after"}
    await comm.disconnect()


async def test_a_failing_snapshot_sends_nothing_that_round_and_logs_a_line(monkeypatch):
    real = health.ops_snapshot
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the broker is down")
        return real() | {"round": len(calls)}

    monkeypatch.setattr(health, "ops_snapshot", flaky)
    root = await make_superuser()
    comm, _ = await connect_as(root.id)
    with structlog.testing.capture_logs() as logs:
        await comm.send_json_to({"type": "ops.subscribe"})
        await next_of(comm, "ack")
        frame = await comm.receive_json_from(timeout=5)
    assert frame["type"] == "ops"
    assert frame["data"]["round"] == 2
    failures = [entry for entry in logs if entry["log_level"] == "warning"]
    assert [entry["event"] for entry in failures] == ["could not read the operations figures"]
    assert "the broker is down" in failures[0]["error"]
    await comm.disconnect()


async def test_presence_counts_connections_per_company():
    acme, globex = await make_company(), await make_company()
    alice, bob = await make_member(acme), await make_member(acme)
    both = await make_member(acme, globex)
    root = await make_superuser()
    comms = [(await connect_as(user.id))[0] for user in (alice, bob, both, root)]

    def clients() -> dict:
        snapshot = health.ops_snapshot()["clients"]
        return {row["company_id"]: row["count"] for row in snapshot["by_company"]}

    expected = {acme.id: 2, None: 2}  # a member of both companies and the superuser: None
    async with asyncio.timeout(5):
        while (await database_sync_to_async(clients)()) != expected:
            await asyncio.sleep(0.05)
    for comm in comms[:2]:
        await comm.disconnect()
    async with asyncio.timeout(5):
        while (await database_sync_to_async(clients)()) != {None: 2}:
            await asyncio.sleep(0.05)
    for comm in comms[2:]:
        await comm.disconnect()


async def test_the_presence_row_goes_when_the_process_stops():
    root = await make_superuser()
    comm, _ = await connect_as(root.id)

    @database_sync_to_async
    def saved() -> dict | None:
        row = WebPresence.objects.filter(process=PROCESS).first()
        return None if row is None else row.by_company

    async with asyncio.timeout(5):
        while await saved() != {"none": 1}:
            await asyncio.sleep(0.05)
    await comm.disconnect()
    await dispatcher.stop()
    assert await saved() is None


def test_who_counts_where():
    connections = {
        _Conn(Viewer(user_id=1, is_customer=False, companies={10: True})),
        _Conn(Viewer(user_id=2, is_customer=False, companies={10: False, 20: False})),
        _Conn(Viewer(user_id=3, is_customer=True)),
        _Conn(Viewer(user_id=4, is_customer=False, companies={10: True}, every_company=True)),
        _Conn(Viewer(user_id=5, is_customer=False)),
    }
    # Each once: the counts add up to the connections; only a single company's member is its.
    assert presence_count(connections) == {10: 1, None: 4}


class _Conn:
    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer


class Subscriber:
    """A connection of the feed; ``broken`` ones fail to send, as a socket going away does."""

    def __init__(self, *, broken: bool = False) -> None:
        self.viewer = None
        self.broken = broken
        self.frames: list[str] = []
        self.got = asyncio.Event()

    async def send_text(self, text: str) -> None:
        if self.broken:
            raise ConnectionResetError("gone")
        self.frames.append(text)
        self.got.set()


async def next_frame(conn: Subscriber) -> None:
    conn.got.clear()
    await asyncio.wait_for(conn.got.wait(), 5)


async def test_a_connection_that_cannot_be_sent_to_does_not_stop_the_feed(monkeypatch):
    from hub.consumers.ops_feed import OpsFeed

    rounds = iter(range(1, 10_000))
    monkeypatch.setattr(health, "ops_snapshot", lambda: {"round": next(rounds)})
    feed = OpsFeed(set())
    broken, healthy = Subscriber(broken=True), Subscriber()
    feed.subscribe(broken)
    feed.subscribe(healthy)
    await next_frame(healthy)
    await next_frame(healthy)
    assert broken not in feed.subscribers and len(healthy.frames) >= 2

    # Once nobody is subscribed the loop ends; the next subscriber starts a new one.
    feed.subscribers.clear()
    while feed._task is not None:
        await asyncio.sleep(0.05)
    newcomer = Subscriber()
    assert feed.subscribe(newcomer) is None
    await next_frame(newcomer)
    await feed.stop()
