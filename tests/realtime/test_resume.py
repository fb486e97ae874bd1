"""Resume over /ws/ with WebsocketCommunicator: paging, the limit, ids the server has not reached."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from hub.consumers import protocol
from hub.consumers.dispatcher import dispatcher
from tests import factories
from tests.realtime.helpers import connect_as

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def make_user():
    return factories.UserFactory()


@database_sync_to_async
def notify(user, count: int) -> None:
    from hub.domain.notifications.services import notification_create

    for n in range(count):
        notification_create(user=user, title=f"n{n}", message="m")


async def live_events(user, count: int):
    """Connect ``user``, give them ``count`` notifications, and read those live (all settled)."""
    comm, hello = await connect_as(user.id)
    await notify(user, count)
    ids = []
    while len(ids) < count:
        frame = await comm.receive_json_from(timeout=10)
        assert frame["type"] == "event", frame
        ids.append(frame["id"])
    return comm, hello, ids


async def resume(comm, after: int) -> tuple[list[int], dict]:
    """Send resume; return the ids of the events before the answer, and the answer."""
    await comm.send_json_to({"type": "resume", "after": after})
    ids = []
    while True:
        frame = await comm.receive_json_from(timeout=10)
        if frame["type"] != "event":
            return ids, frame
        ids.append(frame["id"])


async def test_a_replay_longer_than_a_page_is_sent_whole_and_in_order(monkeypatch):
    monkeypatch.setattr(protocol, "REPLAY_PAGE_SIZE", 3)
    user = await make_user()
    comm, hello, ids = await live_events(user, 8)
    replayed, answer = await resume(comm, hello["latest_event_id"])
    assert replayed == ids  # 8 events, over pages of 3, 3 and 2
    assert answer == {
        "type": "resumed",
        "after": hello["latest_event_id"],
        "replayed": 8,
        "recovered": True,
        "latest_event_id": dispatcher.latest_id(),
    }
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


@pytest.mark.parametrize("missed", [3, 4], ids=["at-the-limit", "beyond-the-limit"])
async def test_a_resume_beyond_the_limit_is_reset_before_anything_is_sent(settings, missed):
    settings.HUB_RESUME_MAX_EVENTS = 3
    user = await make_user()
    comm, _, ids = await live_events(user, 1 + missed)
    replayed, answer = await resume(comm, ids[0])
    if missed == 3:
        assert replayed == ids[1:] and answer["type"] == "resumed"
    else:
        assert replayed == []
        assert answer == {
            "type": "reset",
            "reason": "too_many_events",
            "latest_event_id": dispatcher.latest_id(),
        }
    await comm.disconnect()


async def test_a_resume_after_an_id_the_server_has_not_reached_is_reset():
    user = await make_user()
    comm, _, ids = await live_events(user, 2)
    replayed, answer = await resume(comm, ids[-1] + 1000)
    assert replayed == []
    assert answer == {
        "type": "reset",
        "reason": "ahead_of_server",
        "latest_event_id": dispatcher.latest_id(),
    }
    # The connection goes on: the next event is live.
    await notify(user, 1)
    frame = await comm.receive_json_from(timeout=10)
    assert frame["type"] == "event" and frame["id"] > ids[-1]
    await comm.disconnect()


async def test_an_id_this_process_has_not_reached_but_the_log_has_is_not_a_reset():
    """A client coming from a process further ahead than this one's dispatcher resumes."""
    user = await make_user()
    comm, _, ids = await live_events(user, 3)
    # This process's dispatcher lags behind the client: it has delivered only the first.
    dispatcher.upto = ids[0]
    replayed, answer = await resume(comm, ids[-1])
    assert replayed == []
    assert answer["type"] == "resumed" and answer["after"] == ids[-1]
    await comm.disconnect()
