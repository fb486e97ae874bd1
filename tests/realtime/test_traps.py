"""Known traps of Channels + channels-redis, each shown to be handled."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess

import pytest
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.db import connection

from hub.consumers.dispatcher import dispatcher, publish_batch
from hub.consumers.fanout import event_wire
from hub.domain.events.models import Event
from tests import factories
from tests.realtime.helpers import connect_as

pytestmark = pytest.mark.django_db(transaction=True)


def _redis_layer(url: str, **config) -> dict:
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [url], "prefix": f"traps{os.getpid()}", **config},
        }
    }


def _needs_redis() -> str:
    if not django_settings.REDIS_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("this test needs Redis, and CI must run it")
        pytest.skip("needs Redis (REDIS_URL)")
    return django_settings.REDIS_URL


@database_sync_to_async
def make_user():
    return factories.UserFactory()


@database_sync_to_async
def log_events(user_id: int, count: int) -> list[dict]:
    """Write events straight into the log (no trigger, no service: nothing publishes them)."""
    events = [
        Event.objects.create(
            audience="user",
            user_id=user_id,
            topic="notifications",
            type="notification.created",
            payload={"n": n},
        )
        for n in range(count)
    ]
    return [event_wire(e) for e in events]


async def events_of(comm, count: int, timeout: float = 10) -> list[dict]:
    frames = []
    while len(frames) < count:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame["type"] == "event":
            frames.append(frame)
    return frames


@pytest.mark.no_relay
async def test_messages_dropped_over_capacity_are_read_back_from_the_log(settings):
    """channels-redis silently drops a group message for a channel over capacity."""
    settings.CHANNEL_LAYERS = _redis_layer(_needs_redis(), capacity=1)
    user = await make_user()
    comm, hello = await connect_as(user.id)
    events = await log_events(user.id, 11)
    prev = hello["latest_event_id"]
    async with dispatcher._lock:  # the process is busy: messages pile up and overflow
        for event in events[:10]:
            await publish_batch([event], prev, event["id"])
            prev = event["id"]
    await publish_batch([events[10]], prev, events[10]["id"])
    frames = await events_of(comm, 11)
    assert [f["id"] for f in frames] == [e["id"] for e in events]
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


@pytest.mark.no_relay
@pytest.mark.parametrize("refresh", [0.2, 1000.0], ids=["refreshed", "not-refreshed"])
async def test_group_membership_outlives_group_expiry(settings, refresh):
    """channels-redis forgets group members after group_expiry (channels#105)."""
    settings.CHANNEL_LAYERS = _redis_layer(_needs_redis(), group_expiry=1)
    settings.HUB_GROUP_REFRESH_SECONDS = refresh
    user = await make_user()
    comm, hello = await connect_as(user.id)
    await asyncio.sleep(2.5)  # past group_expiry: the time passing is what is tested
    [event] = await log_events(user.id, 1)
    await publish_batch([event], hello["latest_event_id"], event["id"])
    if refresh < 1:
        assert (await events_of(comm, 1))[0]["id"] == event["id"]
    else:
        # The trap itself: without re-joining, the process is silently out of the group.
        assert await comm.receive_nothing(timeout=1)
    await comm.disconnect()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_redis(port: int) -> subprocess.Popen:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed") if os.environ.get(
            "CI"
        ) == "true" else pytest.skip("needs redis-server")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc
        except OSError:
            import time

            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


@pytest.mark.no_relay
async def test_redis_outage_then_recovery_loses_nothing(settings):
    if connection.vendor != "postgresql":
        if os.environ.get("CI") == "true":
            pytest.fail("needs PostgreSQL in CI")
        pytest.skip("needs PostgreSQL (the relay)")
    port = _free_port()
    redis = _start_redis(port)
    try:
        settings.CHANNEL_LAYERS = _redis_layer(f"redis://127.0.0.1:{port}/0")
        from hub.consumers.relay import Relay

        stop = asyncio.Event()
        relay = Relay(publish=publish_batch, poll_interval=0.2)
        relay_task = asyncio.get_running_loop().create_task(relay.run(stop))
        await asyncio.wait_for(relay.connected.wait(), 10)
        user = await make_user()
        comm, _ = await connect_as(user.id)

        @database_sync_to_async
        def notify(title):
            from hub.domain.notifications.services import notification_create

            return notification_create(user=user, title=title, message="m")

        await notify("before")
        assert (await events_of(comm, 1))[0]["data"]["title"] == "before"
        redis.terminate()
        redis.wait(10)
        for n in range(3):
            await notify(f"during {n}")
        await asyncio.sleep(0.5)  # let both sides hit the dead server
        redis = _start_redis(port)
        frames = await events_of(comm, 3, timeout=30)
        assert [f["data"]["title"] for f in frames] == ["during 0", "during 1", "during 2"]
        await notify("after")
        assert (await events_of(comm, 1, timeout=30))[0]["data"]["title"] == "after"
        await comm.disconnect()
        stop.set()
        relay_task.cancel()
    finally:
        redis.terminate()
        redis.wait(10)


async def test_a_client_that_does_not_read_is_closed_and_others_keep_receiving(settings):
    settings.HUB_WS_SEND_BUFFER = 3
    slow_user, fast_user = await make_user(), await make_user()
    slow, _ = await connect_as(slow_user.id)
    fast, _ = await connect_as(fast_user.id)
    [slow_conn] = [c for c in dispatcher.connections if c.user.id == slow_user.id]
    original = slow_conn.base_send
    stuck = asyncio.Event()

    async def blocked_send(message):
        if message["type"] == "websocket.send":
            await stuck.wait()  # the client never reads
        await original(message)

    slow_conn.base_send = blocked_send
    for _ in range(6):
        for user in (slow_user, fast_user):
            [event] = await log_events(user.id, 1)
            await dispatcher._dispatch(event)
    assert len(await events_of(fast, 6)) == 6  # the stuck client delayed nobody
    closed = await slow.receive_output(timeout=5)
    while closed["type"] != "websocket.close":
        closed = await slow.receive_output(timeout=5)
    assert closed["code"] == 4409
    stuck.set()
    await fast.disconnect()


async def test_a_silent_client_is_closed_by_the_heartbeat(settings):
    settings.HUB_WS_IDLE_TIMEOUT_SECONDS = 1.0
    user = await make_user()
    comm, _ = await connect_as(user.id)
    closed = await comm.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4408, "reason": "heartbeat timeout"}
