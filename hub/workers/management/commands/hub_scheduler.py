"""``manage.py hub_scheduler``: the scheduler process (Procfile ``scheduler``)."""

from __future__ import annotations

import logging
import signal
import threading

from django.core.management.base import BaseCommand

from hub.workers.scheduler import HubScheduler, hub_jobs, leader_lock_from_settings


class Command(BaseCommand):
    help = (
        "Enqueue the hub's periodic actors (Twilio inbox sweep, retention, call reconciliation) "
        "until SIGTERM; with several running, the one holding the Redis leader lock enqueues."
    )

    def handle(self, *args, **options) -> None:
        # APScheduler logs every run at INFO; the scheduler logs what matters itself.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        scheduler = HubScheduler(hub_jobs(), lock=leader_lock_from_settings())
        scheduler.start()
        for job in scheduler.jobs:
            self.stdout.write(f"hub_scheduler: {job.actor_path} every {job.every_seconds:g} s")
        self.stdout.flush()
        try:
            while not stopping.wait(1.0):
                pass
        finally:
            scheduler.stop()
        self.stdout.write("hub_scheduler: stopped")
