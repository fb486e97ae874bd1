"""What the workers and the scheduler did, kept in tables for the operations page and ``/metrics``.

:class:`QueueStats` is a Dramatiq middleware (``config.settings._DRAMATIQ_MIDDLEWARE``, listed
before ``Retries``: Dramatiq calls the ``after_*`` hooks in reverse order, so it sees a failed
message after ``Retries`` has decided its fate). Per queue and actor it counts in
``hub_worker_queue_stat``:

- **retried**: the actor raised and ``Retries`` enqueued the message again (``message.failed``
  still false after ``after_process_message``);
- **failed**: the message was dead-lettered (``after_nack``): no retry left, an exception the
  actor ``throws``, too old (``AgeLimit``), or no such actor;
- **processed**: the actor ran without an error. Counted in memory and written every
  ``FLUSH_SECONDS`` by a thread of the worker (and when it stops): one write per message would
  cost more than the work of most messages.

Failures and retries are written at once with one ``UPDATE … SET n = n + 1`` (an ``INSERT`` the
first time a queue and actor meet), so every worker process's count adds up, exactly once.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import datetime

import dramatiq
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Value
from django.utils import timezone
from dramatiq.common import q_name
from dramatiq.middleware import Middleware

from hub.ops.logging import redact_text

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
ERROR_CHARS = 500
NO_EXCEPTION = "dead-lettered without an error (too old, or no such actor)"


def error_text(exc: BaseException) -> str:
    """The one line kept of an error: its type and message, secrets redacted, cut short."""
    return redact_text(f"{type(exc).__name__}: {exc}")[:ERROR_CHARS]


def queue_stat_add(
    *,
    queue: str,
    actor: str,
    processed: int = 0,
    failed: int = 0,
    retried: int = 0,
    error: str | None = None,
) -> None:
    """Add to the counters of ``queue`` / ``actor`` (one UPDATE; an INSERT the first time)."""
    # Lazy: django_dramatiq loads this module's middleware before the models can be imported.
    from hub.ops.models import WorkerQueueStat

    changes: dict = {
        "processed": F("processed") + Value(processed),
        "failed": F("failed") + Value(failed),
        "retried": F("retried") + Value(retried),
        "updated_at": timezone.now(),
    }
    if error is not None:
        changes |= {"last_error": error, "last_error_at": changes["updated_at"]}
    rows = WorkerQueueStat.objects.filter(queue=queue, actor=actor)
    if rows.update(**changes):
        return
    try:
        with transaction.atomic():
            WorkerQueueStat.objects.create(queue=queue, actor=actor)
    except IntegrityError:
        pass  # another worker made the row first; the update below adds to it
    rows.update(**changes)


def scheduler_run_record(*, job: str, outcome: str, at: datetime | None = None) -> None:
    """Remember that the scheduler just ran (or failed to enqueue) ``job``."""
    # Lazy: django_dramatiq loads this module's middleware before the models can be imported.
    from hub.ops.models import SchedulerRun

    SchedulerRun.objects.bulk_create(
        [SchedulerRun(job=job, last_run=at or timezone.now(), last_outcome=outcome[:255])],
        update_conflicts=True,
        unique_fields=["job"],
        update_fields=["last_run", "last_outcome"],
    )


class QueueStats(Middleware):
    """Count each queue's and actor's messages processed, retried and dead-lettered."""

    def __init__(self, *, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._processed: Counter[tuple[str, str]] = Counter()
        # The error of a message that failed for good, until its nack says where it went.
        self._errors: dict[str, str] = {}
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    def after_process_message(self, broker, message, *, result=None, exception=None):
        key = (q_name(message.queue_name), message.actor_name)
        if exception is None:
            if not message.failed:
                with self._lock:
                    self._processed[key] += 1
            return
        error = error_text(exception)
        if message.failed:
            with self._lock:
                self._errors[message.message_id] = error
            return
        self._write(queue=key[0], actor=key[1], retried=1, error=error)

    def after_nack(self, broker, message):
        with self._lock:
            error = self._errors.pop(message.message_id, NO_EXCEPTION)
        self._write(
            queue=q_name(message.queue_name), actor=message.actor_name, failed=1, error=error
        )

    def after_worker_boot(self, broker, worker):
        self._stop.clear()
        self._flusher = threading.Thread(
            target=self._flush_every, name="hub-queue-stats", daemon=True
        )
        self._flusher.start()

    def before_worker_shutdown(self, broker, worker):
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=self.flush_seconds + 5)
            self._flusher = None
        self.flush()

    def flush(self) -> None:
        """Write the processed counts gathered since the last flush."""
        with self._lock:
            counts, self._processed = self._processed, Counter()
        try:
            for (queue, actor), count in counts.items():
                queue_stat_add(queue=queue, actor=actor, processed=count)
        except Exception:
            # The database is away: keep the counts for the next flush.
            with self._lock:
                self._processed.update(counts)
            raise
        finally:
            if threading.current_thread() is self._flusher:
                connection.close()  # this thread's own connection; a new one next time

    def _flush_every(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception as exc:
                logger.warning("queue stats: could not write the processed counts (%s)", exc)

    def _write(self, **counts) -> None:
        # A counter must never fail the message it counts.
        try:
            queue_stat_add(**counts)
        except Exception as exc:
            logger.warning("queue stats: could not count a %s message (%s)", counts["queue"], exc)


def queue_stats_middleware(broker: dramatiq.Broker) -> QueueStats | None:
    """The broker's :class:`QueueStats`, if it has one."""
    return next((m for m in broker.middleware if isinstance(m, QueueStats)), None)
