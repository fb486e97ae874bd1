"""``manage.py hub_relay``: LISTEN for new events on PostgreSQL and fan them out to every web process."""

from __future__ import annotations

import asyncio
import signal

from django.core.management.base import BaseCommand, CommandError

from hub.consumers.dispatcher import publish_batch
from hub.consumers.fanout import layer_is_local
from hub.consumers.relay import Relay
from hub.domain.events.services import triggers_write_events


class Command(BaseCommand):
    help = "Relay hub_event rows (written by triggers on PostgreSQL) to the web processes."

    def add_arguments(self, parser):
        parser.add_argument(
            "--poll-interval", type=float, default=1.0, help="seconds between log polls when idle"
        )

    def handle(self, *args, **options):
        if not triggers_write_events():
            raise CommandError(
                "hub_relay needs PostgreSQL (DATABASE_URL=postgres://...): on SQLite the web process publishes its own events."
            )
        if layer_is_local():
            raise CommandError(
                "hub_relay needs a shared channel layer (REDIS_URL); without one each web process relays by itself."
            )
        asyncio.run(self._run(options["poll_interval"]))

    async def _run(self, poll_interval: float) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        relay = Relay(publish=publish_batch, poll_interval=poll_interval)
        self.stdout.write("hub_relay: listening for events (Ctrl-C to stop)")
        await relay.run(stop)
        self.stdout.write(f"hub_relay: stopped at event #{relay.watermark}")
