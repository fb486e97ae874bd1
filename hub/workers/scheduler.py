"""Periodic work: enqueue actors on a schedule (APScheduler), from one process at a time.

The ``scheduler`` process (``manage.py hub_scheduler``) only enqueues; the workers run the actors.
Several scheduler processes may run (a rolling deploy, a spare): the one holding the leader lock
enqueues, the others wait. The lock is a Redis key with a time to live (``REDIS_URL``), renewed
every few seconds by its holder, so a leader that dies is replaced within the TTL and a leader cut
off from Redis stops enqueuing. Without Redis (the embedded default: one process, the stub broker)
there is nothing to share and no lock.

Actors are named by dotted path and resolved on each tick, so a job whose actor does not exist
(yet) is logged and skipped instead of stopping the others.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dramatiq
import redis
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string
from prometheus_client import Counter

from hub.workers.stats import error_text, scheduler_run_record

logger = logging.getLogger(__name__)

SWEEP_ACTOR = "hub.workers.twilio.twilio_inbox_sweep"
RECONCILE_ACTOR = "hub.workers.calls.calls_reconcile"
RETENTION_ACTOR = "hub.workers.retention.retention_prune"
SLACK_ALERTS_ACTOR = "hub.workers.slack_alerts.slack_alerts_collect"
MAIL_SYNC_ACTOR = "hub.workers.mail_sync.mail_sync_all"
MAIL_SEND_SWEEP_ACTOR = "hub.workers.mail_send.mail_send_sweep"
MAIL_RULES_ACTOR = "hub.workers.mail_rules.mail_rules_collect"
LOCK_TTL_SECONDS = 30.0
LOCK_RENEW_SECONDS = 10.0

ENQUEUED = Counter("hub_scheduler_enqueued_total", "Messages the scheduler enqueued", ["actor"])

# hub_scheduler_run's last_outcome of a job (the operations page shows it).
ENQUEUED_OUTCOME = "enqueued"
NOT_AN_ACTOR = "skipped: not a Dramatiq actor"


@dataclass(frozen=True)
class Job:
    actor_path: str
    every_seconds: float


def hub_jobs(*, quiet: bool = False) -> list[Job]:
    """The hub's periodic jobs, with their intervals from settings (``quiet``: for a reader,
    such as the operations page, rather than the scheduler: say nothing about them)."""
    jobs = [
        Job(SWEEP_ACTOR, float(settings.HUB_TWILIO_SWEEP_SECONDS)),
        Job(RETENTION_ACTOR, float(settings.HUB_RETENTION_INTERVAL_SECONDS)),
        Job(SLACK_ALERTS_ACTOR, float(settings.HUB_SLACK_ALERTS_INTERVAL_SECONDS)),
        Job(MAIL_SYNC_ACTOR, float(settings.HUB_EMAIL_SYNC_INTERVAL_SECONDS)),
        Job(MAIL_SEND_SWEEP_ACTOR, float(settings.HUB_EMAIL_SEND_SWEEP_SECONDS)),
        Job(MAIL_RULES_ACTOR, float(settings.HUB_EMAIL_RULES_INTERVAL_SECONDS)),
    ]
    if settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN:
        jobs.append(Job(RECONCILE_ACTOR, float(settings.TWILIO_RECONCILE_INTERVAL_SECONDS)))
    elif not quiet:
        logger.info("scheduler: no Twilio credentials, so no call reconciliation")
    return jobs


class NoLock:
    """Every process leads: the embedded default, where the broker is not shared anyway."""

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        pass


class RedisLeaderLock:
    """A Redis key naming the leader, with a TTL its holder renews."""

    def __init__(self, url: str, key: str, *, ttl_seconds: float = LOCK_TTL_SECONDS) -> None:
        self.key = key
        self.token = uuid.uuid4().hex
        self.ttl_ms = int(ttl_seconds * 1000)
        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.held = False

    # Compare-and-renew / compare-and-delete: only the holder's token may touch the key.
    _RENEW = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then "
        "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
    )
    _RELEASE = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then "
        "return redis.call('del', KEYS[1]) end return 0"
    )

    def hold(self) -> bool:
        """Renew the lock if this process holds it, else try to take it; return whether held."""
        try:
            if self.held and self.redis.eval(
                self._RENEW, 1, self.key, self.token, str(self.ttl_ms)
            ):
                return True
            self.held = bool(self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms))
        except redis.RedisError as exc:
            logger.warning(
                "scheduler: cannot reach Redis for the leader lock (%s); not enqueuing", exc
            )
            self.held = False
        return self.held

    def release(self) -> None:
        try:
            self.redis.eval(self._RELEASE, 1, self.key, self.token)
        except redis.RedisError as exc:
            logger.warning(
                "scheduler: could not release the leader lock (%s); it expires by itself", exc
            )
        self.held = False


def leader_lock_from_settings() -> NoLock | RedisLeaderLock:
    if settings.REDIS_URL:
        return RedisLeaderLock(
            settings.REDIS_URL, f"{settings.HUB_CHANNEL_PREFIX}:scheduler:leader"
        )
    return NoLock()


class HubScheduler:
    """Enqueue each job's actor every ``every_seconds`` while this process holds the lock."""

    def __init__(
        self,
        jobs: list[Job],
        *,
        broker: dramatiq.Broker | None = None,
        lock: NoLock | RedisLeaderLock | None = None,
        renew_seconds: float = LOCK_RENEW_SECONDS,
    ) -> None:
        self.jobs = jobs
        self.broker = broker
        self.lock = lock or NoLock()
        self.renew_seconds = renew_seconds
        self.leading = threading.Event()
        self._missing: set[str] = set()
        self._unrecorded = False
        self._scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1}
        )

    def start(self) -> None:
        self._lease()
        now = datetime.now(UTC)
        self._scheduler.add_job(
            self._lease,
            IntervalTrigger(seconds=self.renew_seconds, timezone=UTC),
            id="leader-lease",
            next_run_time=now + timedelta(seconds=self.renew_seconds),
        )
        for job in self.jobs:
            self._scheduler.add_job(
                self.enqueue,
                IntervalTrigger(seconds=job.every_seconds, timezone=UTC),
                args=[job.actor_path],
                id=job.actor_path,
                misfire_grace_time=max(1, int(job.every_seconds)),
            )
            logger.info("scheduler: %s every %g s", job.actor_path, job.every_seconds)
        self._scheduler.start()

    def stop(self) -> None:
        """Stop ticking, wait for a tick under way, and hand the lock over."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self.lock.release()
        self.leading.clear()

    def _lease(self) -> None:
        was_leading = self.leading.is_set()
        if self.lock.hold():
            self.leading.set()
            if not was_leading:
                logger.info("scheduler: this process leads; enqueuing the periodic jobs")
        else:
            self.leading.clear()
            if was_leading:
                logger.warning("scheduler: lost the leader lock; another scheduler enqueues now")

    def _resolve(self, path: str) -> dramatiq.Actor | None:
        try:
            actor = import_string(path)
        except ImportError:
            actor = None
        if not isinstance(actor, dramatiq.Actor):
            if path not in self._missing:
                self._missing.add(path)
                logger.warning(
                    "scheduler: %s is not a Dramatiq actor (not there yet?); skipped", path
                )
            return None
        if path in self._missing:
            self._missing.discard(path)
            logger.info("scheduler: %s found; enqueuing it from now on", path)
        return actor

    def enqueue(self, path: str) -> bool:
        """Enqueue one message for the actor at ``path`` if this process leads; record the run."""
        if not self.leading.is_set():
            return False
        actor = self._resolve(path)
        if actor is None:
            self._record(path, NOT_AN_ACTOR)
            return False
        broker = self.broker or actor.broker
        try:
            broker.declare_queue(actor.queue_name)
            broker.enqueue(actor.message())
        except Exception as exc:
            self._record(path, f"failed: {error_text(exc)}")
            raise
        ENQUEUED.labels(actor=actor.actor_name).inc()
        self._record(path, ENQUEUED_OUTCOME)
        return True

    def _record(self, path: str, outcome: str) -> None:
        # The record is for the operations page: a database away must not stop the schedule.
        try:
            scheduler_run_record(job=path, outcome=outcome)
        except Exception as exc:
            if not self._unrecorded:
                logger.warning("scheduler: cannot record the runs of its jobs (%s)", exc)
            self._unrecorded = True
            if not connection.in_atomic_block:
                connection.close()  # this thread's connection may be broken: a new one next time
        else:
            self._unrecorded = False


def start_inprocess_scheduler() -> HubScheduler:
    """Run the schedule inside this process (the embedded default's web process)."""
    scheduler = HubScheduler(hub_jobs(), lock=leader_lock_from_settings())
    scheduler.start()
    return scheduler
