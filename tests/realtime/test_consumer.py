"""The /ws/ consumer with WebsocketCommunicator: auth, errors, live events, resume."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from tests import factories
from tests.realtime.helpers import access_token, communicator, connect_as

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def make_user(**kwargs):
    return factories.UserFactory(**kwargs)


@database_sync_to_async
def notify(user, title="Hi"):
    from hub.domain.notifications.services import notification_create

    return notification_create(user=user, title=title, message="m")


async def wait_for_event(comm, timeout=5):
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame["type"] == "event":
            return frame


async def test_auth_with_token_says_hello():
    user = await make_user()
    comm, hello = await connect_as(user.id)
    assert hello["user"]["id"] == user.id
    assert "latest_event_id" in hello
    await comm.disconnect()


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        access_token(1, key="some-other-key-that-is-32-bytes-long!!"),
        access_token(1, lifetime=-60),
        access_token(1, token_type="refresh"),
    ],
    ids=["garbage", "forged", "expired", "refresh"],
)
async def test_bad_token_closes_4401(token):
    comm = communicator()
    await comm.connect()
    await comm.send_json_to({"type": "auth", "token": token})
    error = await comm.receive_json_from()
    assert error["type"] == "error" and error["code"] == "bad_token"
    closed = await comm.receive_output()
    assert closed == {"type": "websocket.close", "code": 4401, "reason": "bad token"}


async def test_inactive_user_closes_4403():
    user = await make_user(is_active=False)
    comm = communicator()
    await comm.connect()
    await comm.send_json_to({"type": "auth", "token": access_token(user.id)})
    assert (await comm.receive_json_from())["code"] == "inactive_user"
    assert (await comm.receive_output())["code"] == 4403


async def test_no_auth_frame_closes_4401(settings):
    settings.HUB_WS_AUTH_TIMEOUT_SECONDS = 0.2
    comm = communicator()
    await comm.connect()
    assert (await comm.receive_json_from(timeout=3))["code"] == "auth_required"
    assert (await comm.receive_output(timeout=3))["code"] == 4401


async def test_malformed_frames_get_error_frames_and_connection_stays():
    user = await make_user()
    comm, _ = await connect_as(user.id)
    await comm.send_to(text_data="{nope")
    assert (await comm.receive_json_from())["code"] == "invalid_json"
    await comm.send_json_to([1, 2])
    assert (await comm.receive_json_from())["code"] == "invalid_frame"
    await comm.send_json_to({"type": "dance"})
    assert (await comm.receive_json_from())["code"] == "unknown_type"
    await comm.send_json_to({"type": "ping", "ref": 7})
    assert await comm.receive_json_from() == {"type": "pong", "ref": 7}
    await comm.disconnect()


async def test_oversized_frame_closes_1009(settings):
    settings.HUB_WS_MAX_FRAME_BYTES = 1024
    user = await make_user()
    comm, _ = await connect_as(user.id)
    await comm.send_to(text_data='{"type":"ping","pad":"' + "x" * 2000 + '"}')
    assert (await comm.receive_json_from())["code"] == "frame_too_large"
    assert (await comm.receive_output())["code"] == 1009


async def test_flooding_client_is_closed_4429(settings):
    settings.HUB_WS_RATE_BURST = 5
    settings.HUB_WS_RATE_PER_SECOND = 0.1
    user = await make_user()
    comm, _ = await connect_as(user.id)
    for _ in range(6):
        await comm.send_json_to({"type": "ping"})
    frames = []
    while not frames or frames[-1]["type"] != "websocket.close":
        frames.append(await comm.receive_output())
    # The auth frame took one token of the burst of 5: four pings are answered, the fifth closes.
    assert len(frames) == 5
    assert frames[-1] == {"type": "websocket.close", "code": 4429, "reason": "rate limited"}


async def test_notification_reaches_its_user_only():
    alice = await make_user()
    eve = await make_user()
    a_comm, _ = await connect_as(alice.id)
    e_comm, _ = await connect_as(eve.id)
    note = await notify(alice, "For alice")
    frame = await wait_for_event(a_comm)
    assert frame["event"] == "notification.created"
    assert frame["data"]["id"] == str(note.id)
    assert frame["data"]["title"] == "For alice"
    assert await e_comm.receive_nothing(timeout=0.3)
    await a_comm.disconnect()
    await e_comm.disconnect()


async def test_resume_replays_missed_events_in_order():
    alice = await make_user()
    comm, _ = await connect_as(alice.id)
    first = await notify(alice, "one")
    seen = await wait_for_event(comm)
    assert seen["data"]["id"] == str(first.id)
    await comm.disconnect()
    for title in ("two", "three", "four"):
        await notify(alice, title)
    comm, _ = await connect_as(alice.id)
    await comm.send_json_to({"type": "resume", "after": seen["id"]})
    # As docs/PROTOCOL.md tells clients: live events may arrive between hello and the replay
    # (and repeat in it), and events the relay had not settled arrive after "resumed". Hold
    # everything until "resumed", handle it by id, skip ids already handled.
    frames, resumed = {}, None
    while len(frames) < 3 or resumed is None:
        frame = await comm.receive_json_from()
        if frame["type"] == "event":
            frames.setdefault(frame["id"], frame)
            if resumed is not None:  # after "resumed", ids only grow
                assert frame["id"] == max(frames), frame
        else:
            assert frame["type"] == "resumed", frame
            resumed = frame
    assert [frames[i]["data"]["title"] for i in sorted(frames)] == ["two", "three", "four"]
    assert resumed["recovered"] is True and resumed["replayed"] <= 3
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


async def test_resume_beyond_window_sends_reset(settings):
    from datetime import timedelta

    from django.utils import timezone

    from hub.domain.events.models import Event

    alice = await make_user()
    await notify(alice, "old")
    await notify(alice, "older")
    await sync_to_async(Event.objects.update)(created_at=timezone.now() - timedelta(days=3))
    comm, _ = await connect_as(alice.id)
    await comm.send_json_to({"type": "resume", "after": 0})
    frame = await comm.receive_json_from()
    assert frame["type"] == "reset" and frame["reason"] == "beyond_replay_window"
    await comm.disconnect()


async def test_mark_read_pushes_to_other_tabs():
    alice = await make_user()
    tab1, _ = await connect_as(alice.id)
    tab2, _ = await connect_as(alice.id)
    note = await notify(alice)
    await wait_for_event(tab1)
    await wait_for_event(tab2)
    await tab1.send_json_to({"type": "notification.read", "id": str(note.id), "ref": "r1"})
    frames = [await tab1.receive_json_from(), await tab1.receive_json_from()]
    assert {"type": "ack", "action": "notification.read", "count": 1, "ref": "r1"} in frames
    pushed = await wait_for_event(tab2)
    assert pushed["event"] == "notification.read" and pushed["data"]["id"] == str(note.id)
    await tab1.disconnect()
    await tab2.disconnect()


async def test_mark_read_of_someone_elses_notification_is_not_found():
    alice = await make_user()
    eve = await make_user()
    note = await notify(alice)
    comm, _ = await connect_as(eve.id)
    await comm.send_json_to({"type": "notification.read", "id": str(note.id)})
    frames = []
    while True:
        frame = await comm.receive_json_from()
        frames.append(frame)
        if frame["type"] == "error":
            break
    assert frames[-1]["code"] == "not_found"
    await comm.disconnect()
    await asyncio.sleep(0)
