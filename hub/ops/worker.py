"""The in-process Dramatiq worker of the embedded default (no broker URL configured)."""

from __future__ import annotations

import os
import sys
import threading

from django.conf import settings

_started = threading.Event()


def _serving() -> bool:
    argv0 = os.path.basename(sys.argv[0]) if sys.argv else ""
    return argv0 in ("daphne", "uvicorn") or (len(sys.argv) > 1 and sys.argv[1] in ("runserver",))


def start_inprocess_worker_if_configured() -> None:
    """Start one Dramatiq worker thread on the stub broker when this process serves the web."""
    if not settings.HUB_INPROCESS_WORKER or not _serving() or _started.is_set():
        return
    # Only the embedded default runs a worker inside the web process: the others never load it.
    import dramatiq
    from dramatiq import Worker

    _started.set()
    worker = Worker(dramatiq.get_broker(), worker_threads=2, worker_timeout=250)
    worker.start()

    # The periodic jobs too (the inbox sweeper, call reconciliation): without a broker there
    # is no separate scheduler process to enqueue them.
    from hub.workers.scheduler import start_inprocess_scheduler

    start_inprocess_scheduler()
