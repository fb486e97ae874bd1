"""The scheduler: actors enqueued on their intervals, one leader at a time, clean SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker

from hub.workers.scheduler import (
    MAIL_RULES_ACTOR,
    MAIL_SEND_SWEEP_ACTOR,
    MAIL_SYNC_ACTOR,
    RECONCILE_ACTOR,
    RETENTION_ACTOR,
    SLACK_ALERTS_ACTOR,
    SWEEP_ACTOR,
    HubScheduler,
    Job,
    NoLock,
    RedisLeaderLock,
    hub_jobs,
    leader_lock_from_settings,
)

ROOT = Path(__file__).resolve().parents[2]


def wait_until(predicate, *, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.01)


def queued(broker: StubBroker, queue: str) -> list[str]:
    if queue not in broker.queues:
        return []
    return [Message.decode(data).actor_name for data in list(broker.queues[queue].queue)]


@pytest.fixture
def redis_url(settings) -> str:
    if not settings.REDIS_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("this test needs Redis, and CI must run it")
        pytest.skip("needs Redis (REDIS_URL)")
    return settings.REDIS_URL


@pytest.fixture
def lock_key(settings, redis_url):
    key = f"{settings.HUB_CHANNEL_PREFIX}:test-scheduler:{uuid.uuid4().hex}"
    yield key
    redis.Redis.from_url(redis_url).delete(key)


@pytest.fixture
def running():
    started: list[HubScheduler] = []

    def start(scheduler: HubScheduler) -> HubScheduler:
        started.append(scheduler)
        scheduler.start()
        return scheduler

    yield start
    for scheduler in started:
        scheduler.stop()


def test_each_actor_is_enqueued_on_its_own_interval(running):
    broker = StubBroker()
    began = time.monotonic()
    scheduler = running(
        HubScheduler([Job(SWEEP_ACTOR, 0.1), Job(RECONCILE_ACTOR, 0.3)], broker=broker)
    )

    wait_until(lambda: len(queued(broker, "default")) >= 2, what="two reconcile messages")
    scheduler.stop()
    elapsed = time.monotonic() - began

    sweeps, reconciles = queued(broker, "twilio"), queued(broker, "default")
    assert set(sweeps) == {"twilio_inbox_sweep"}
    assert set(reconciles) == {"calls_reconcile"}
    assert elapsed >= 0.55  # the second reconcile is due at 0.6 s, not earlier
    assert len(sweeps) >= 2 * len(reconciles)
    assert len(sweeps) <= elapsed / 0.1 + 1


def test_a_missing_actor_is_reported_once_and_does_not_stop_the_others(running, caplog):
    broker = StubBroker()
    scheduler = running(
        HubScheduler(
            [Job("hub.workers.calls.not_there", 0.05), Job(RECONCILE_ACTOR, 0.05)],
            broker=broker,
        )
    )

    wait_until(lambda: len(queued(broker, "default")) >= 4, what="four reconcile messages")
    scheduler.stop()

    warnings = [r for r in caplog.records if "hub.workers.calls.not_there" in r.getMessage()]
    assert len(warnings) == 1
    assert queued(broker, "default") == ["calls_reconcile"] * len(queued(broker, "default"))


def test_only_the_lock_holder_enqueues_and_a_standby_takes_over(running, redis_url, lock_key):
    first, second = StubBroker(), StubBroker()
    jobs = [Job(RECONCILE_ACTOR, 0.05)]
    leader = running(
        HubScheduler(
            jobs, broker=first, lock=RedisLeaderLock(redis_url, lock_key), renew_seconds=0.1
        )
    )
    standby = running(
        HubScheduler(
            jobs, broker=second, lock=RedisLeaderLock(redis_url, lock_key), renew_seconds=0.1
        )
    )

    wait_until(lambda: len(queued(first, "default")) >= 3, what="the leader enqueuing")
    assert leader.leading.is_set() and not standby.leading.is_set()
    assert queued(second, "default") == []

    leader.stop()  # hands the lock over

    wait_until(lambda: len(queued(second, "default")) >= 2, what="the standby enqueuing")
    assert standby.leading.is_set()


def test_a_leader_that_dies_is_replaced_when_its_lock_expires(running, redis_url, lock_key):
    first, second = StubBroker(), StubBroker()
    jobs = [Job(RECONCILE_ACTOR, 0.05)]
    leader = HubScheduler(
        jobs,
        broker=first,
        lock=RedisLeaderLock(redis_url, lock_key, ttl_seconds=0.5),
        renew_seconds=0.1,
    )
    leader.start()
    standby = running(
        HubScheduler(
            jobs, broker=second, lock=RedisLeaderLock(redis_url, lock_key), renew_seconds=0.1
        )
    )
    wait_until(lambda: len(queued(first, "default")) >= 1, what="the leader enqueuing")

    leader._scheduler.shutdown(wait=True)  # dies: no release, no renewal
    died = time.monotonic()

    wait_until(lambda: standby.leading.is_set(), what="the standby leading")
    assert time.monotonic() - died < 2.0
    wait_until(lambda: len(queued(second, "default")) >= 1, what="the standby enqueuing")


def test_the_hubs_jobs_come_from_settings(settings):
    settings.HUB_TWILIO_SWEEP_SECONDS = 7
    settings.TWILIO_RECONCILE_INTERVAL_SECONDS = 120
    settings.HUB_RETENTION_INTERVAL_SECONDS = 900
    settings.HUB_SLACK_ALERTS_INTERVAL_SECONDS = 3
    settings.HUB_EMAIL_SYNC_INTERVAL_SECONDS = 60
    settings.HUB_EMAIL_SEND_SWEEP_SECONDS = 30
    settings.HUB_EMAIL_RULES_INTERVAL_SECONDS = 5
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "token"

    assert hub_jobs() == [
        Job(SWEEP_ACTOR, 7.0),
        Job(RETENTION_ACTOR, 900.0),
        Job(SLACK_ALERTS_ACTOR, 3.0),
        Job(MAIL_SYNC_ACTOR, 60.0),
        Job(MAIL_SEND_SWEEP_ACTOR, 30.0),
        Job(MAIL_RULES_ACTOR, 5.0),
        Job(RECONCILE_ACTOR, 120.0),
    ]


def test_without_twilio_credentials_nothing_is_reconciled(settings):
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = None

    assert [job.actor_path for job in hub_jobs()] == [
        SWEEP_ACTOR,
        RETENTION_ACTOR,
        SLACK_ALERTS_ACTOR,
        MAIL_SYNC_ACTOR,
        MAIL_SEND_SWEEP_ACTOR,
        MAIL_RULES_ACTOR,
    ]


def test_without_redis_every_process_leads(settings):
    settings.REDIS_URL = None

    assert isinstance(leader_lock_from_settings(), NoLock)


def test_the_command_takes_the_lead_and_stops_cleanly_on_sigterm(redis_url):
    prefix = f"hubtest-scheduler-{uuid.uuid4().hex[:12]}"
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "HUB_CHANNEL_PREFIX": prefix,
        "REDIS_URL": redis_url,
        # Long intervals: nothing is enqueued on the shared broker while the test runs.
        "HUB_TWILIO_SWEEP_SECONDS": "3600",
        "TWILIO_RECONCILE_INTERVAL_SECONDS": "3600",
        "HUB_RETENTION_INTERVAL_SECONDS": "3600",
        "HUB_SLACK_ALERTS_INTERVAL_SECONDS": "3600",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
    }
    key = f"{prefix}:scheduler:leader"
    client = redis.Redis.from_url(redis_url)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "hub_scheduler"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(
            lambda: client.exists(key) or process.poll() is not None,
            timeout=30,
            what="the scheduler taking the lock",
        )
        assert process.poll() is None, process.stdout.read()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
        held_after_exit = client.exists(key)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        client.delete(key)

    assert process.returncode == 0, output
    assert "hub_scheduler: stopped" in output
    assert f"hub_scheduler: {RECONCILE_ACTOR} every 3600 s" in output
    assert not held_after_exit  # released on the way out, not left to expire
