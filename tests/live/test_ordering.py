"""Commit order on the whole path (plain SQL → outbox → relay → Redis → two daphne processes).

A transaction left open holds nothing back; when it commits, however late, its events reach
the clients connected all along and those that resume; concurrent writers that commit and roll
back in any order give every client each committed event it may see, once, in id order.
"""

from __future__ import annotations

import os
import random
import threading
import time

import psycopg
import pytest

from hub.domain.authentication.services import company_user_add
from hub.domain.events.models import Audience, Event
from tests import factories
from tests.eventlog import event_log_settled
from tests.live.conftest import Client, client, database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

NOTIFY = (
    "INSERT INTO notifications_notification (id, user_id, title, message, type, is_read, created_at) "
    "VALUES (gen_random_uuid(), %s, %s, 'from psql', 'info', false, now())"
)
CALL_STATUSES = ["Ringing", "InProgress", "Completed", "Busy", "NoAnswer", "Failed"]
# How long the late transaction stays open: well past anything the relay used to wait for.
LATE_SECONDS = 30


def _connect() -> psycopg.Connection:
    return psycopg.connect(database_url())


def _events_until(c: Client, title: str, timeout: float = 15) -> list[dict]:
    """Every event frame up to and including the one titled ``title``."""
    frames = []
    while True:
        frame = c.next_event(timeout=timeout)
        frames.append(frame)
        if frame["data"].get("title") == title:
            return frames


def test_a_transaction_committing_30_s_late_reaches_live_and_resuming_clients(live_hub):
    alice = factories.UserFactory()
    late = _connect()
    try:
        with client(live_hub.url(0), alice.id) as connected:
            late.execute(NOTIFY, [alice.id, "late"])  # open, not committed
            with _connect() as early:
                early.execute(NOTIFY, [alice.id, "early"])
            # Pushed at once, though "late" took its place in line first.
            early_frame = connected.next_event(timeout=5)
            assert early_frame["data"]["title"] == "early"

            with client(live_hub.url(1), alice.id) as resuming:
                resuming.send({"type": "resume", "after": early_frame["id"] - 1})
                assert resuming.next_event()["id"] == early_frame["id"]
            # The resuming client is away; the connected one hears nothing while "late" is open.
            with pytest.raises(TimeoutError):
                connected.next_event(timeout=LATE_SECONDS)

            late.commit()
            late_frame = connected.next_event(timeout=10)
            assert late_frame["data"]["title"] == "late"
            assert late_frame["id"] > early_frame["id"]

        with client(live_hub.url(1), alice.id) as resuming:
            resuming.send({"type": "resume", "after": early_frame["id"]})
            frames = [resuming.recv() for _ in range(2)]
            assert frames[0]["type"] == "event" and frames[0]["id"] == late_frame["id"]
            assert frames[1]["type"] == "resumed" and frames[1]["replayed"] == 1
    finally:
        late.close()


def test_concurrent_writers_every_client_gets_each_committed_event_once_in_order(live_hub):
    seed = int(os.environ.get("HUB_TEST_SEED", time.time_ns() % 1_000_000))
    companies = [factories.CompanyFactory() for _ in range(2)]
    members: dict[int, list[int]] = {c.id: [] for c in companies}
    users = []
    for company in companies:
        for role in ("ceo", "sales_manager", "support_staff"):
            user = factories.UserFactory()
            company_user_add(company=company, user=user, role=role)
            members[company.id].append(user.id)
            users.append(user)
    outsider = factories.UserFactory()  # no company: only their own notifications
    users.append(outsider)
    calls = [factories.CallFactory(company=c) for c in companies for _ in range(3)]

    # Each user connected twice, once to each web process.
    clients = {
        (user.id, index): Client(live_hub.url(index)) for user in users for index in range(2)
    }
    committed: set[str] = set()
    rolled_back: set[str] = set()
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        wrng = random.Random(seed * 100 + number)
        try:
            with _connect() as conn:
                for tx in range(20):
                    titles: list[str] = []
                    try:
                        done = _write_some(conn, wrng, number, tx, titles)
                    except psycopg.errors.DeadlockDetected:
                        done = False  # two writers took call rows in opposite orders
                    if done:
                        conn.commit()
                        committed.update(titles)
                    else:
                        conn.rollback()
                        rolled_back.update(titles)
        except BaseException as exc:
            errors.append(exc)

    def _write_some(conn, wrng, number, tx, titles) -> bool:
        for step in range(wrng.randint(1, 3)):
            if wrng.random() < 0.6:
                title = f"w{number}-t{tx}-s{step}"
                conn.execute(NOTIFY, [wrng.choice(users).id, title])
                titles.append(title)
            else:
                conn.execute(
                    "UPDATE calls_call SET status = %s WHERE id = %s",
                    [wrng.choice(CALL_STATUSES), wrng.choice(calls).id],
                )
            # Some transactions stay open a while, so commits overtake each other.
            time.sleep(wrng.choice([0, 0, 0.005, 0.02, 0.3]))
        return wrng.random() < 0.8  # commit, else roll back

    try:
        for (user_id, _), c in clients.items():
            c.auth(user_id)
        start = max(c.hello["latest_event_id"] for c in clients.values())
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors, f"seed {seed}: {errors!r}"
        with _connect() as conn:
            for user in users:
                conn.execute(NOTIFY, [user.id, f"sentinel-{user.id}"])
            conn.commit()

        received = {key: _events_until(c, f"sentinel-{key[0]}") for key, c in clients.items()}
        event_log_settled()
        log = list(Event.objects.filter(id__gt=start).order_by("id"))
        logged_titles = {e.payload.get("title") for e in log if e.topic == "notifications"}
        assert committed <= logged_titles, f"seed {seed}: committed events missing from the log"
        assert not (rolled_back & logged_titles), f"seed {seed}: a rolled-back event was logged"

        for (user_id, index), frames in received.items():
            ids = [f["id"] for f in frames]
            expected = [
                e.id
                for e in log
                if (e.audience == Audience.USER and e.user_id == user_id)
                or (e.audience == Audience.COMPANY and user_id in members.get(e.company_id, ()))
            ]
            expected = expected[: expected.index(ids[-1]) + 1]
            assert ids == sorted(set(ids)), f"seed {seed}: user {user_id} on web {index}: order"
            assert ids == expected, f"seed {seed}: user {user_id} on web {index}"
    finally:
        for c in clients.values():
            c.close()
