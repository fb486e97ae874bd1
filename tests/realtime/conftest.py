from __future__ import annotations

import asyncio
import contextlib

import pytest
from channels.db import database_sync_to_async
from django.db import connections

from hub.consumers.dispatcher import dispatcher, publish_batch
from hub.consumers.fanout import layer_is_local
from hub.domain.events.services import triggers_write_events


@pytest.fixture(autouse=True)
async def event_pipeline(request):
    """Run what a deployment runs: the relay (with PostgreSQL and a shared layer) and stop all after."""
    stop = asyncio.Event()
    task = None
    if (
        triggers_write_events()
        and not layer_is_local()
        and not request.node.get_closest_marker("no_relay")
    ):
        from hub.consumers.relay import Relay

        relay = Relay(publish=publish_batch, poll_interval=0.2)
        task = asyncio.get_running_loop().create_task(relay.run(stop))
        await asyncio.wait_for(relay.connected.wait(), 10)
    yield
    stop.set()
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    await dispatcher.stop()
    # Connections opened by database_sync_to_async threads must not outlive the test database.
    await database_sync_to_async(connections.close_all)()
