"""The operations figures (hub.ops.health): each one from the tables, the broker and the workers."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import dramatiq
import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_dramatiq.utils import load_middleware
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from hub.domain.emails.models import EmailSyncLog, MailSyncState, SyncStatus
from hub.domain.events.models import Event, EventOutbox
from hub.integrations.slack.models import AlertStatus, SlackAlert, SlackInstallation
from hub.integrations.twilio.inbox import callback_store
from hub.integrations.twilio.models import TwilioCallback
from hub.ops import health
from hub.ops.models import SchedulerRun, WebPresence, WorkerQueueStat
from hub.workers.scheduler import SWEEP_ACTOR, HubScheduler, Job
from hub.workers.stats import QueueStats, queue_stats_middleware
from tests import factories
from tests.ops.conftest import global_broker

QUEUE = "opstest"


def project_middleware() -> list:
    """The broker middleware of config/settings.py, in its order (QueueStats before Retries)."""
    return [load_middleware(path) for path in django_settings.DRAMATIQ_BROKER["MIDDLEWARE"]]


def test_the_settings_count_after_retries_decides():
    names = [type(m).__name__ for m in project_middleware()]
    assert names.index("QueueStats") < names.index("Retries")


def declare_actors(broker: dramatiq.Broker):
    @dramatiq.actor(
        broker=broker, queue_name=QUEUE, max_retries=2, min_backoff=1, max_backoff=5, max_age=None
    )
    def ops_boom(token: str) -> None:
        raise ValueError(f"boom password=hunter2 {token}")

    @dramatiq.actor(broker=broker, queue_name=QUEUE)
    def ops_fine() -> None:
        pass

    @dramatiq.actor(broker=broker, queue_name=QUEUE, max_retries=0)
    def ops_once() -> None:
        raise RuntimeError("no retry for me")

    return ops_boom, ops_fine, ops_once


def stat(actor: str) -> WorkerQueueStat:
    return WorkerQueueStat.objects.get(queue=QUEUE, actor=actor)


@pytest.mark.django_db(transaction=True)
def test_a_worker_counts_retries_failures_and_processed_exactly():
    broker = StubBroker(middleware=project_middleware())
    boom, fine, once = declare_actors(broker)
    worker = dramatiq.Worker(broker, worker_threads=1 if connection.vendor == "sqlite" else 2)
    worker.start()
    try:
        boom.send("first")
        once.send()
        for _ in range(3):
            fine.send()
        broker.join(QUEUE)
    finally:
        worker.stop()  # waits for every hook under way, and flushes the processed counts

    # Two retries then dead-lettered; the retries are counted once each, the death once.
    assert (stat("ops_boom").retried, stat("ops_boom").failed, stat("ops_boom").processed) == (
        2,
        1,
        0,
    )
    assert "ValueError: boom" in stat("ops_boom").last_error
    assert "hunter2" not in stat("ops_boom").last_error
    assert (stat("ops_once").retried, stat("ops_once").failed) == (0, 1)
    assert stat("ops_once").last_error == "RuntimeError: no retry for me"
    assert (stat("ops_fine").processed, stat("ops_fine").failed) == (3, 0)

    with global_broker(broker):
        row = next(q for q in health.queues_figure() if q["name"] == QUEUE)
    assert row | {"last_error": None, "last_error_at": None} == {
        "name": QUEUE,
        "depth": 0,
        "delayed": 0,
        "dead": 2,
        "failed": 2,
        "retried": 2,
        "processed": 3,
        "last_error": None,
        "last_error_at": None,
    }
    assert row["last_error_at"] is not None


@pytest.mark.django_db(transaction=True)
def test_processed_counts_are_written_by_the_flusher_while_the_worker_runs():
    broker = StubBroker(middleware=project_middleware())
    _, fine, _ = declare_actors(broker)
    counter = queue_stats_middleware(broker)
    assert isinstance(counter, QueueStats)
    counter.flush_seconds = 0.05
    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    try:
        fine.send()
        broker.join(QUEUE)
        deadline = timezone.now() + timedelta(seconds=10)
        while not WorkerQueueStat.objects.filter(actor="ops_fine", processed=1).exists():
            assert timezone.now() < deadline, "the flusher never wrote the count"
            time.sleep(0.02)
    finally:
        worker.stop()
    assert stat("ops_fine").processed == 1


def test_stub_broker_depths(db):
    broker = StubBroker(middleware=project_middleware())
    _, fine, _ = declare_actors(broker)
    fine.send()
    fine.send()
    fine.send_with_options(delay=60_000)
    with global_broker(broker):
        row = next(q for q in health.queues_figure() if q["name"] == QUEUE)
    assert (row["depth"], row["delayed"], row["dead"]) == (2, 1, 0)


@pytest.fixture
def redis_url() -> str:
    if not django_settings.REDIS_URL or django_settings.REDIS_URL.startswith(
        "redis://127.0.0.1:1/"
    ):
        if os.environ.get("CI") == "true":
            pytest.fail("this test needs Redis, and CI must run it")
        pytest.skip("needs Redis (REDIS_URL)")
    return django_settings.REDIS_URL


@pytest.fixture
def redis_broker(redis_url) -> Iterator[RedisBroker]:
    broker = RedisBroker(
        url=redis_url, namespace=f"hubtest-ops-{os.getpid()}", middleware=project_middleware()
    )
    yield broker
    broker.flush_all()
    broker.client.delete(*broker.client.keys(f"{broker.namespace}:*") or ["-"])
    broker.close()


@pytest.mark.django_db(transaction=True)
def test_redis_broker_depths_and_dead_letters(redis_broker):
    _, fine, once = declare_actors(redis_broker)
    worker = dramatiq.Worker(redis_broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        once.send()
        redis_broker.join(QUEUE, timeout=10_000)
    finally:
        worker.stop()
    for _ in range(3):
        fine.send()
    fine.send_with_options(delay=60_000)

    with global_broker(redis_broker):
        row = next(q for q in health.queues_figure() if q["name"] == QUEUE)
    assert (row["depth"], row["delayed"], row["dead"], row["failed"]) == (3, 1, 1, 1)
    assert row["last_error"] == "RuntimeError: no retry for me"


def test_a_broker_that_does_not_answer_leaves_the_depths_unknown(db, caplog):
    down = RedisBroker(url="redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    down.declare_queue(QUEUE)
    WorkerQueueStat.objects.create(queue=QUEUE, actor="ops_boom", failed=4)
    with global_broker(down):
        row = next(q for q in health.queues_figure() if q["name"] == QUEUE)
    assert (row["depth"], row["delayed"], row["dead"], row["failed"]) == (None, None, None, 4)
    assert any("cannot read the queue depths" in r.getMessage() for r in caplog.records)


def test_relay_lag_counts_committed_outbox_rows_only(db):
    if connection.vendor != "postgresql":
        figure = health.relay_figure()
        newest = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
        assert figure == {"lag_seconds": 0.0, "backlog": 0, "last_event_id": newest}
        return
    EventOutbox.objects.all().delete()
    assert health.relay_figure()["backlog"] == 0
    # A row of a transaction still open elsewhere is not the relay's to move yet.
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as other:
        other.execute(
            "INSERT INTO hub_event_outbox (audience, topic, type, payload, created_at) "
            "VALUES ('user', 'notifications', 'test.open', '{}', now() - interval '1 hour')"
        )
        assert health.relay_figure()["backlog"] == 0
        other.rollback()
    EventOutbox.objects.create(
        audience="user",
        topic="notifications",
        type="test.waiting",
        created_at=timezone.now() - timedelta(seconds=30),
    )
    figure = health.relay_figure()
    assert figure["backlog"] == 1
    assert 30 <= figure["lag_seconds"] < 60


def test_twilio_inbox_backlog_and_failures(db):
    def store(n: int) -> TwilioCallback:
        sid = f"CA{n:032d}"
        params = {"CallSid": sid, "CallStatus": "ringing", "SequenceNumber": "0"}
        return callback_store(kind="status", params=params, call_sid=sid, sequence_number=0)

    waiting, failing, applied = store(1), store(2), store(3)
    TwilioCallback.objects.filter(pk=waiting.pk).update(
        verified_at=timezone.now() - timedelta(seconds=90)
    )
    TwilioCallback.objects.filter(pk=failing.pk).update(attempts=2, last_error="no such call")
    TwilioCallback.objects.filter(pk=applied.pk).update(processed_at=timezone.now(), attempts=1)

    figure = health.twilio_inbox_figure()
    assert (figure["backlog"], figure["failed"]) == (2, 1)
    assert 90 <= figure["oldest_backlog_seconds"] < 120


def test_an_empty_twilio_inbox(db):
    assert health.twilio_inbox_figure() == {
        "backlog": 0,
        "failed": 0,
        "oldest_backlog_seconds": None,
    }


def test_the_scheduler_records_each_run_and_its_failures(db, settings):
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = None
    scheduler = HubScheduler([Job(SWEEP_ACTOR, 30)], broker=StubBroker())
    scheduler.leading.set()
    assert scheduler.enqueue(SWEEP_ACTOR)
    assert SchedulerRun.objects.get(job=SWEEP_ACTOR).last_outcome == "enqueued"

    jobs = {row["job"]: row for row in health.scheduler_figure()}
    assert jobs["twilio_inbox_sweep"]["last_outcome"] == "enqueued"
    assert jobs["twilio_inbox_sweep"]["last_run"] is not None
    assert jobs["mail_sync_all"] == {
        "job": "mail_sync_all",
        "every_seconds": float(settings.HUB_EMAIL_SYNC_INTERVAL_SECONDS),
        "last_run": None,
        "last_outcome": "never run",
    }

    down = RedisBroker(url="redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    failing = HubScheduler([Job(SWEEP_ACTOR, 30)], broker=down)
    failing.leading.set()
    with pytest.raises(Exception):  # noqa: B017 - whatever the broker raised goes on to APScheduler
        failing.enqueue(SWEEP_ACTOR)
    assert SchedulerRun.objects.get(job=SWEEP_ACTOR).last_outcome.startswith("failed: ")

    assert not scheduler.enqueue("hub.workers.calls.not_there")
    assert SchedulerRun.objects.get(job="hub.workers.calls.not_there").last_outcome.startswith(
        "skipped"
    )


def test_presence_adds_up_processes_and_forgets_the_silent_ones(db, acme, globex, settings):
    settings.HUB_OPS_PRESENCE_SECONDS = 5
    health.web_presence_save(process="web-1", by_company={acme.pk: 2, None: 1, globex.pk: 0})
    health.web_presence_save(process="web-2", by_company={acme.pk: 1, globex.pk: 4})

    figure = health.clients_figure()
    assert figure == {
        "total": 8,
        "processes": 2,
        "by_company": [
            {"company_id": globex.pk, "company": "Globex", "count": 4},
            {"company_id": acme.pk, "company": "Acme", "count": 3},
            {"company_id": None, "company": "No company", "count": 1},
        ],
    }

    # Not heard of for three times the interval: gone (a process killed without its drop).
    WebPresence.objects.filter(process="web-2").update(
        updated_at=timezone.now() - timedelta(seconds=16)
    )
    assert health.clients_figure()["total"] == 3
    health.web_presence_save(process="web-1", by_company={acme.pk: 5})
    assert health.clients_figure()["by_company"] == [
        {"company_id": acme.pk, "company": "Acme", "count": 5}
    ]
    health.web_presence_drop(process="web-1")
    assert health.clients_figure() == {"total": 0, "processes": 0, "by_company": []}


def test_events_per_second_and_the_ten_minute_series(db):
    now = timezone.now()
    Event.objects.all().delete()
    for age in (5, 20, 20, 200, 700):
        event = Event.objects.create(audience="user", topic="notifications", type="test.event")
        Event.objects.filter(pk=event.pk).update(created_at=now - timedelta(seconds=age))

    figure = health.events_figure(now)
    assert figure["per_second"] == round(3 / 60, 3)
    series = figure["series"]
    assert len(series) == 60
    assert sum(bucket["count"] for bucket in series) == 4  # 700 s ago is out of the window
    assert series[-1]["count"] + series[-2]["count"] == 1  # 5 s ago: this bucket or the last
    assert datetime.fromisoformat(series[-1]["at"]) <= now


def mailbox(company, email: str, **fields):
    return factories.EmailAccountFactory(
        company=company, email=email, imap_host="imap.test", imap_port=993, **fields
    )


def test_mailboxes_show_the_last_error_and_the_back_off(db, acme):
    healthy = mailbox(acme, "ok@acme.test", last_sync=timezone.now())
    failing = mailbox(acme, "bad@acme.test")
    mailbox(acme, "off@acme.test", sync_enabled=False)
    now = timezone.now()
    EmailSyncLog.objects.create(
        email_account=healthy, sync_started_at=now, sync_completed_at=now, status="completed"
    )
    MailSyncState.objects.create(
        account=failing, last_error="login refused", failing_since=now - timedelta(minutes=3)
    )
    for minutes, status in ((3, SyncStatus.FAILED), (1, SyncStatus.FAILED)):
        at = now - timedelta(minutes=minutes)
        EmailSyncLog.objects.create(
            email_account=failing,
            sync_started_at=at,
            sync_completed_at=at,
            status=status,
            error_message="login refused",
        )

    rows = health.mailboxes_figure()
    assert [row["email"] for row in rows] == ["bad@acme.test", "ok@acme.test"]
    bad, ok = rows
    assert bad["last_error"] == "login refused" and bad["company"] == "Acme"
    # Two failures in a row: the scheduler waits two minutes after the last one.
    expected = (now - timedelta(minutes=1) + timedelta(minutes=2)).isoformat()
    assert bad["backing_off_until"] == expected
    assert (ok["last_error"], ok["backing_off_until"]) == (None, None)
    assert ok["last_sync"] is not None


def test_slack_workspaces_show_a_lost_channel_or_an_undelivered_alert(db, acme, globex):
    lost = SlackInstallation.objects.create(
        team_id="T1", team_name="Acme HQ", company=acme, bot_token="x",
        alerts_channel_error="the bot was removed from #deals",
    )  # fmt: skip
    failing = SlackInstallation.objects.create(
        team_id="T2", company=globex, bot_token="x", is_active=False
    )
    healed = SlackInstallation.objects.create(team_id="T3", company=globex, bot_token="x")

    def alert(installation, n: int, status: str, error: str = "") -> None:
        SlackAlert.objects.create(
            installation=installation, event_id=n, kind="deal_won", recipient="channel:C1",
            status=status, last_error=error,
        )  # fmt: skip

    alert(failing, 1, AlertStatus.SENT)
    alert(failing, 2, AlertStatus.FAILED, "channel_not_found")
    alert(healed, 3, AlertStatus.FAILED, "ratelimited")
    alert(healed, 4, AlertStatus.SENT)

    rows = {row["id"]: row for row in health.slack_figure()}
    assert rows[lost.pk] == {
        "id": lost.pk,
        "team": "Acme HQ",
        "company": "Acme",
        "active": True,
        "last_error": "the bot was removed from #deals",
    }
    assert (rows[failing.pk]["team"], rows[failing.pk]["active"]) == ("T2", False)
    assert rows[failing.pk]["last_error"] == "channel_not_found"
    assert rows[healed.pk]["last_error"] is None


def _many_rows(company, n: int) -> None:
    for i in range(n):
        account = mailbox(company, f"box{i}@{company.pk}.test")
        EmailSyncLog.objects.create(
            email_account=account,
            sync_started_at=timezone.now(),
            status=SyncStatus.FAILED,
            error_message="nope",
        )
        SlackInstallation.objects.create(
            team_id=f"T{company.pk}-{i}", company=company, bot_token="x"
        )
        WorkerQueueStat.objects.create(queue=f"q{company.pk}", actor=f"a{i}", failed=1)
        health.web_presence_save(process=f"web-{company.pk}-{i}", by_company={company.pk: i + 1})


def test_the_snapshot_is_a_dozen_queries_whatever_the_rows(db, acme, globex):
    broker = StubBroker(middleware=project_middleware())
    declare_actors(broker)
    with global_broker(broker):
        _many_rows(acme, 2)
        with CaptureQueriesContext(connection) as few:
            health.ops_snapshot()
        _many_rows(globex, 6)
        with CaptureQueriesContext(connection) as many:
            snapshot = health.ops_snapshot()
    print(f"ops_snapshot: {len(many)} queries")
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    assert len(many) <= 12
    assert snapshot["clients"]["total"] == 3 + 21
    assert len(snapshot["mailboxes"]) == 8 and len(snapshot["slack"]) == 8
    json.dumps(snapshot)  # JSON-serialisable as it is


RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"


def test_rabbitmq_depths_on_a_channel_of_their_own():
    rabbitmq = pytest.importorskip("dramatiq.brokers.rabbitmq")
    try:
        # confirm_delivery: each enqueue returns once the server has the message.
        broker = rabbitmq.RabbitmqBroker(url=RABBITMQ_URL, middleware=[], confirm_delivery=True)
        broker.connection  # noqa: B018 - connecting is the check
    except Exception as exc:
        pytest.skip(f"no RabbitMQ at {RABBITMQ_URL} ({exc})")
    queue = f"hubtest-ops-{os.getpid()}"
    broker.declare_queue(queue)
    try:
        for _ in range(2):
            broker.enqueue(dramatiq.Message(queue, "noop", (), {}, {}))
        broker.enqueue(dramatiq.Message(queue, "noop", (), {}, {}), delay=60_000)
        # A queue the server does not know answers 0 and leaves the broker's channel usable.
        depths = health.broker_depths(broker, ["hubtest-ops-never-declared", queue])
        assert depths == {"hubtest-ops-never-declared": (0, 0, 0), queue: (2, 1, 0)}
        broker.enqueue(dramatiq.Message(queue, "noop", (), {}, {}))
        assert health.broker_depths(broker, [queue])[queue] == (3, 1, 0)
    finally:
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            broker.channel.queue_delete(name)
        broker.close()
