"""A web process's part in the operations page (``/console/ops/``).

- **Presence**: every ``HUB_OPS_PRESENCE_SECONDS`` (and at once on the first connection) the
  process saves its open connections per company (``hub_web_presence``, through
  ``hub.ops.health.web_presence_save``), so the page can count every process's clients; the row
  is dropped when the process stops (and ignored once stale, if it never could be).
- **The ops feed**: superusers' connections subscribe (``ops.subscribe``); while any is
  subscribed, one task reads ``ops_snapshot()`` every ``HUB_OPS_REFRESH_SECONDS`` and sends the
  same ``ops`` frame to all of them. With nobody subscribed it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections import defaultdict
from typing import Protocol

import structlog
from channels.db import database_sync_to_async
from django.conf import settings

from hub.consumers import protocol
from hub.domain.events.audience import Viewer
from hub.ops import health

log = structlog.get_logger("hub.ops_feed")

# This process in hub_web_presence: host, pid, and a random part (pids are reused).
PROCESS = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

# Off the shared sync thread (as hub.consumers.reads): a slow figure (a broker that answers
# late) must not hold up the connections' own database work.
_presence_save = database_sync_to_async(health.web_presence_save, thread_sensitive=False)
_presence_drop = database_sync_to_async(health.web_presence_drop, thread_sensitive=False)


def _ops_snapshot() -> dict:
    # Looked up at each call (not bound at import), so a test may stand a failing one in.
    return health.ops_snapshot()


_snapshot = database_sync_to_async(_ops_snapshot, thread_sensitive=False)


class Connection(Protocol):
    viewer: Viewer | None

    async def send_text(self, text: str) -> None: ...


def presence_count(connections: set) -> dict[int | None, int]:
    """Open connections per company, each counted once (the counts add up to the total).

    A member of one company counts under it; anyone else under None, "no single company":
    superusers (they see every company), customers, and members of several companies.
    """
    counts: dict[int | None, int] = defaultdict(int)
    for conn in connections:
        viewer = conn.viewer
        companies = viewer.companies if viewer is not None and not viewer.every_company else {}
        counts[next(iter(companies)) if len(companies) == 1 else None] += 1
    return dict(counts)


class OpsFeed:
    def __init__(self, connections: set) -> None:
        self.connections = connections  # the dispatcher's (registered connections)
        self.subscribers: set[Connection] = set()
        self.last_text: str | None = None  # the last ops frame sent, for a newcomer at once
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None  # set once the presence loop runs
        self._halted = False
        self._presence: asyncio.Task | None = None  # the presence loop's task

    # --- presence -----------------------------------------------------------------------
    async def presence_loop(self) -> None:
        wake = self._wake = asyncio.Event()
        self._halted = False
        self._presence = asyncio.current_task()
        while self._wake is wake and not self._halted:  # until halt() or stop()
            wake.clear()
            try:
                await _presence_save(process=PROCESS, by_company=presence_count(self.connections))
            except Exception as exc:
                log.warning("could not save the web presence", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), settings.HUB_OPS_PRESENCE_SECONDS)

    def halt(self) -> None:
        """End the presence loop at its next turn; called before its task is cancelled.

        On Python 3.11 ``asyncio.wait_for`` may swallow a cancellation that arrives as the
        awaited event is set (gh-86296): the flag ends the loop even then, so a stop that
        awaits the cancelled task never waits forever.
        """
        self._halted = True
        if self._wake is not None:
            self._wake.set()

    def presence_changed(self) -> None:
        """Save the presence now rather than at the next round."""
        if self._wake is not None:
            self._wake.set()

    async def stop(self) -> None:
        """Stop the feed and drop this process's presence (shutting down)."""
        self.halt()
        task, self._task = self._task, None
        self.subscribers.clear()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._wake is None:
            return  # never saved
        presence = self._presence
        if presence is not None and presence is not asyncio.current_task():
            # A save already on its way (on a thread) would write the row again after the drop.
            await asyncio.wait({presence}, timeout=settings.HUB_OPS_PRESENCE_SECONDS)
        self._wake = None
        try:
            await _presence_drop(process=PROCESS)
        except Exception as exc:
            log.warning("could not drop the web presence", error=repr(exc))

    # --- the ops feed ---------------------------------------------------------------------
    def subscribe(self, conn: Connection) -> str | None:
        """Add ``conn`` to the feed; return the last frame sent, if any, to send it at once."""
        self.subscribers.add(conn)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
            return None  # its first round sends to every subscriber now
        return self.last_text

    async def _run(self) -> None:
        try:
            while self.subscribers:
                try:
                    data = await _snapshot()
                except Exception as exc:
                    log.warning("could not read the operations figures", error=repr(exc))
                    self.last_text = None
                else:
                    self.last_text = text = protocol.encode({"type": "ops", "data": data})
                    for conn in list(self.subscribers):
                        try:
                            await conn.send_text(text)
                        except Exception as exc:  # a connection going away: not the others
                            self.subscribers.discard(conn)
                            log.info("dropped an ops subscriber", error=repr(exc))
                await asyncio.sleep(settings.HUB_OPS_REFRESH_SECONDS)
        finally:
            # However the loop ends, the next subscriber starts a new one.
            self._task, self.last_text = None, None
