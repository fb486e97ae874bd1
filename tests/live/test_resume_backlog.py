"""Resuming over a large backlog on a real server: paged, limited, and bounded in memory."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from hub.domain.events.models import Event
from tests import factories
from tests.live.conftest import Client, database_url, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

BACKLOG = 30_000
RESUMES = 4
# How much the server's peak memory may grow while 4 clients resume over 30,000 events each.
# Building each replay whole in memory (the old way) grew it by well over 200 MB; paged, it
# holds a page and what the clients have not read yet.
PEAK_GROWTH_LIMIT = 80 * 1024 * 1024


def notifications_in_one_transaction(user_id: int, count: int) -> None:
    with psycopg.connect(database_url(), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO notifications_notification "
            "(id, user_id, title, message, type, is_read, created_at) "
            "SELECT gen_random_uuid(), %s, 'backlog ' || n, repeat('m', 200), 'info', false, now() "
            "FROM generate_series(1, %s) AS n",
            [user_id, count],
        )


def peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc")


def delivered_upto(url: str, user_id: int) -> int:
    c = Client(url)
    try:
        return c.auth(user_id)["latest_event_id"]
    finally:
        c.close()


def resume_frames(url: str, user_id: int, after: int) -> list[dict]:
    """Authenticate, resume after ``after``; every frame up to the answer (resumed or reset)."""
    c = Client(url)
    try:
        c.auth(user_id)
        c.send({"type": "resume", "after": after})
        frames = [c.recv(timeout=60)]
        while frames[-1]["type"] == "event":
            frames.append(c.recv(timeout=60))
        return frames
    finally:
        c.close()


@pytest.fixture
def backlog(live_hub):
    """A user who missed BACKLOG events; (the user, the id before them, the last id)."""
    user = factories.UserFactory()
    before = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    notifications_in_one_transaction(user.id, BACKLOG)
    mine = Event.objects.filter(user_id=user.id)
    wait_for(lambda: mine.count() == BACKLOG, timeout=120, what="the relay to log the backlog")
    last = mine.order_by("-id").values_list("id", flat=True).first()
    return user, before, last


def test_resume_over_a_large_backlog_is_paged_and_bounded_in_memory(spare_daphne, backlog):
    user, before, last = backlog
    server = spare_daphne(HUB_RESUME_MAX_EVENTS=str(BACKLOG * 2))
    url, pid = server.url(0), server.procs[0].pid
    wait_for(
        lambda: delivered_upto(url, user.id) >= last,
        timeout=120,
        what="the server to have delivered the backlog",
    )
    # Warm up what a resume uses (a small one), then measure from there.
    assert [f["type"] for f in resume_frames(url, user.id, last - 3)] == ["event"] * 3 + ["resumed"]
    peak_before = peak_rss(pid)

    results: dict[int, list[dict]] = {}

    def resume(i: int) -> None:
        results[i] = resume_frames(url, user.id, before)

    threads = [threading.Thread(target=resume, args=(i,)) for i in range(RESUMES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    growth = peak_rss(pid) - peak_before

    assert sorted(results) == list(range(RESUMES))
    for frames in results.values():
        *events, answer = frames
        assert answer["type"] == "resumed" and answer["replayed"] == BACKLOG
        ids = [e["id"] for e in events]
        assert len(ids) == BACKLOG and ids == sorted(ids) and ids[-1] == last
        assert events[0]["data"]["title"] == "backlog 1"
    assert growth < PEAK_GROWTH_LIMIT, f"the server's peak memory grew {growth >> 20} MiB"


def test_resume_beyond_the_limit_or_the_server_is_reset_at_once(live_hub, backlog):
    user, before, last = backlog
    url = live_hub.url(0)
    wait_for(lambda: delivered_upto(url, user.id) >= last, timeout=120, what="delivery")
    # The default HUB_RESUME_MAX_EVENTS (5000): nothing is replayed, the client refetches.
    [answer] = resume_frames(url, user.id, before)
    assert answer["type"] == "reset" and answer["reason"] == "too_many_events"
    assert answer["latest_event_id"] >= last
    # Within the limit, the same backlog's tail is replayed.
    *events, answer = resume_frames(url, user.id, last - 5000)
    assert len(events) == 5000 and answer["type"] == "resumed"
    # An id the server never reached (its database restored from an older backup, say).
    [answer] = resume_frames(url, user.id, last + 1_000_000)
    assert answer["type"] == "reset" and answer["reason"] == "ahead_of_server"
    assert answer["latest_event_id"] >= last
