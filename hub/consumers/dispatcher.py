"""The process-local fan-out: one subscription to the event stream per process.

Each connection registers here once authenticated. For every event the dispatcher encodes
the frame once and sends it straight to each local connection that may see it (no
per-connection channel-layer message). It also:
- re-joins the ``hub.events`` group periodically, so group expiry never silences a process;
- notices a missed message (``prev`` beyond what it has delivered) and reads the gap from
  the log; after a channel-layer outage it re-subscribes and catches up the same way;
- closes connections whose client has gone quiet (half-open sockets), and those whose access
  token has expired;
- re-reads who each connection's user is every ``HUB_WS_REVALIDATE_SECONDS`` (in a few
  batched queries), so a membership removed or changed later narrows what it receives, and a
  deactivated user is disconnected;
- saves the process's open connections per company (``hub_web_presence``) every
  ``HUB_OPS_PRESENCE_SECONDS``, and pushes the operations figures to the connections that
  subscribed to them (``ops.subscribe``), one snapshot per round for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import os
import signal
import threading
import time
import weakref
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from hub.consumers import protocol, transport
from hub.consumers.fanout import EVENTS_GROUP, MESSAGE_TYPE, event_wire, layer_is_local
from hub.consumers.ops_feed import OpsFeed
from hub.domain.events.audience import Viewer
from hub.domain.events.models import Audience, Event
from hub.domain.events.selectors import event_settled_id, viewers_current
from hub.domain.events.services import triggers_write_events
from hub.ops import metrics

if TYPE_CHECKING:
    from hub.consumers.relay import Relay


class HubConsumer(Protocol):
    """What the dispatcher uses of a connection (``hub.consumers.hub.HubConsumer``)."""

    viewer: Viewer | None
    expires_at: float | None
    last_seen: float
    raw: Any
    replaying: bool
    sending: bool
    closing: bool

    async def deliver(self, event_id: int, message: dict) -> None: ...

    def raw_backlog(self) -> int: ...

    async def send_error(self, code: str, message: str, *, ref: Any = None) -> None: ...

    async def close_with(self, code: int, reason: str = "") -> None: ...


log = structlog.get_logger("hub.dispatcher")


@database_sync_to_async
def _read_log(after: int, upto: int | None, limit: int = 2000) -> list[dict[str, Any]]:
    events = Event.objects.filter(id__gt=after)
    if upto is not None:
        events = events.filter(id__lte=upto)
    return [event_wire(e) for e in events.order_by("id")[:limit]]


# Who each connection's user is now, for revalidation (a few queries for many users).
_current_viewers = database_sync_to_async(viewers_current)


@database_sync_to_async
def _settled_id() -> int:
    return event_settled_id()


class Dispatcher:
    def __init__(self) -> None:
        self.by_user: dict[int, set[HubConsumer]] = defaultdict(set)
        self.by_company: dict[int, set[HubConsumer]] = defaultdict(set)
        # Superusers' connections: every company's events reach them (Viewer.every_company).
        self.every_company: set[HubConsumer] = set()
        self.connections: set[HubConsumer] = set()
        # This process's presence (connections per company) and the operations figures' feed.
        self.ops = OpsFeed(self.connections)
        # (when the token runs out, tie-breaker, the connection) for token-authenticated ones.
        self._expiries: list[tuple[float, int, weakref.ref[HubConsumer]]] = []
        self._expiry_seq = itertools.count()
        self.upto = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.channel: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._start_lock: asyncio.Lock | None = None
        self._wake: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._stop = asyncio.Event()
        self.relay: Relay | None = None
        self.draining = False
        self._drain_installed = getattr(self, "_drain_installed", False)

    # --- life cycle --------------------------------------------------------------------
    async def ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        if self.loop is loop and self._tasks:
            return
        if self.loop is not loop:
            self._reset_for_loop(loop)
        assert self._start_lock is not None
        async with self._start_lock:
            if self._tasks:
                return
            self.upto = await _settled_id()
            if layer_is_local():
                self._tasks.append(loop.create_task(self._local_loop()))
                if _inprocess_relay_wanted():
                    self._tasks.append(loop.create_task(self._run_relay()))
            else:
                await self._subscribe()
                self._tasks.append(loop.create_task(self._layer_loop()))
                self._tasks.append(loop.create_task(self._refresh_loop()))
            self._tasks.append(loop.create_task(self._sweep_loop()))
            self._tasks.append(loop.create_task(self.ops.presence_loop()))
            self._install_drain_on_sigterm()
            log.info("dispatcher started", upto=self.upto, local=layer_is_local())

    def _reset_for_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        # A new event loop (tests create one per test): forget state bound to the old one.
        for task in self._tasks:
            task.cancel()
        self.__init__()  # type: ignore[misc]
        self.loop = loop
        self._start_lock = asyncio.Lock()
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    async def stop(self) -> None:
        self._stop.set()
        self.ops.halt()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        await self.ops.stop()

    # --- registry ----------------------------------------------------------------------
    def register(self, conn: HubConsumer, viewer: Viewer) -> None:
        self.connections.add(conn)
        self._index(conn, viewer)
        if conn.expires_at is not None:
            entry = (conn.expires_at, next(self._expiry_seq), weakref.ref(conn))
            heapq.heappush(self._expiries, entry)
        metrics.WS_CONNECTIONS.set(len(self.connections))
        if len(self.connections) == 1:
            self.ops.presence_changed()  # the first connection shows at once

    def unregister(self, conn: HubConsumer) -> None:
        self.connections.discard(conn)
        self.ops.subscribers.discard(conn)
        self._unindex(conn)
        metrics.WS_CONNECTIONS.set(len(self.connections))

    def reregister(self, conn: HubConsumer, viewer: Viewer) -> None:
        """Route to ``conn`` by a new viewer of the same user (its memberships changed)."""
        if conn not in self.connections:
            return
        self._unindex(conn)
        conn.viewer = viewer
        self._index(conn, viewer)
        if not viewer.every_company:
            self.ops.subscribers.discard(conn)  # no longer a superuser

    def _index(self, conn: HubConsumer, viewer: Viewer) -> None:
        self.by_user[viewer.user_id].add(conn)
        if viewer.is_customer:
            return
        if viewer.every_company:
            self.every_company.add(conn)
            return
        for company_id in viewer.companies:
            self.by_company[company_id].add(conn)

    def _unindex(self, conn: HubConsumer) -> None:
        viewer = conn.viewer
        if viewer is not None:
            _discard(self.by_user, viewer.user_id, conn)
            self.every_company.discard(conn)
            for company_id in viewer.companies:
                _discard(self.by_company, company_id, conn)

    def recipients(self, event: dict[str, Any]) -> list[HubConsumer]:
        """The local connections that may see ``event``, for live routing.

        Mirrors the audience rule, ``hub.domain.events.audience.viewer_events_q`` (what replay
        applies), in memory over the by-user and by-company indexes; change both together.
        ``tests/events/test_audience_rule.py`` checks that they agree.
        """
        audience = event["audience"]
        if audience == Audience.USER:
            return list(self.by_user.get(event["user_id"], ()))
        if audience not in (Audience.COMPANY, Audience.DEAL_MANAGERS):
            return []
        members = self.by_company.get(event["company_id"], ())
        if audience == Audience.COMPANY:
            chosen = list(members)
        else:
            company_id, user_id = event["company_id"], event["user_id"]
            # Every indexed connection has its viewer (set before _index is called).
            chosen = [
                c
                for c in members
                if (viewer := c.viewer) is not None
                and (viewer.companies.get(company_id) or viewer.user_id == user_id)
            ]
        # A superuser's connection is indexed here only, never also under a company.
        return chosen + list(self.every_company) if self.every_company else chosen

    # --- delivery ----------------------------------------------------------------------
    async def handle_message(self, message: dict[str, Any]) -> None:
        if self.loop is None:
            return  # no connection was ever registered in this process
        assert self._lock is not None
        async with self._lock:
            if message.get("wake"):
                # Read the log, but only as far as delivery has settled (the relay's watermark).
                await self._catch_up(await _settled_id())
                return
            prev, upto = message["prev"], message["upto"]
            if prev > self.upto:
                # A message was lost on the way (or we were away): the log has the gap.
                await self._catch_up(prev)
            for event in message["events"]:
                if event["id"] > self.upto:
                    await self._dispatch(event)
            self.upto = max(self.upto, upto)

    async def _catch_up(self, upto: int | None) -> None:
        while True:
            events = await _read_log(self.upto, upto)
            for event in events:
                await self._dispatch(event)
                self.upto = event["id"]
            if len(events) < 2000:
                if upto is not None:
                    self.upto = max(self.upto, upto)
                return

    async def _dispatch(self, event: dict[str, Any]) -> None:
        conns = self.recipients(event)
        if not conns:
            return
        text = protocol.event_frame_text(event)
        message = {"type": "websocket.send", "text": text}
        event_id = event["id"]
        prepared = None
        limit = settings.HUB_WS_SEND_BUFFER_BYTES
        for conn in conns:
            raw = conn.raw
            if raw is not None and not (conn.replaying or conn.sending or conn.closing):
                # daphne: frame once, write the same bytes to each connection.
                if conn.raw_backlog() > limit:
                    await conn.close_with(protocol.CLOSE_SLOW_CONSUMER, "too far behind")
                    continue
                if raw.state == raw.STATE_OPEN:
                    if prepared is None:
                        prepared = raw.factory.prepareMessage(text.encode()).payloadHybi
                    transport.write_now(raw.transport, prepared)
                continue
            await conn.deliver(event_id, message)

    def latest_id(self) -> int:
        return self.upto

    # --- the channel-layer subscription ------------------------------------------------
    async def _subscribe(self) -> None:
        layer = get_channel_layer()
        if self.channel is None:
            self.channel = await layer.new_channel("hub-dispatch.")
        await layer.group_add(EVENTS_GROUP, self.channel)

    async def _layer_loop(self) -> None:
        layer = get_channel_layer()
        backoff = 0.1
        while True:
            try:
                message = await layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("channel layer unavailable", error=repr(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                with contextlib.suppress(Exception):
                    await self._subscribe()
                    await self.handle_message({"wake": True})
                continue
            backoff = 0.1
            try:
                await self.handle_message(message)
            except Exception:
                log.exception("dispatch failed")

    async def _refresh_loop(self) -> None:
        # channels-redis forgets group members after group_expiry; re-join well before that.
        while True:
            await asyncio.sleep(settings.HUB_GROUP_REFRESH_SECONDS)
            try:
                await self._subscribe()
            except Exception as exc:
                log.warning("could not refresh the group membership", error=repr(exc))

    # --- the embedded default ----------------------------------------------------------
    def wake_threadsafe(self) -> None:
        if self.loop is None or self._wake is None or self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self._wake.set)

    async def _local_loop(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.handle_message({"wake": True})
            except Exception:
                log.exception("dispatch failed")

    async def _run_relay(self) -> None:
        # Only processes that run a relay (PostgreSQL without Redis) load psycopg's async side.
        from hub.consumers.relay import Relay

        relay = Relay(publish=publish_batch)
        self.relay = relay
        await relay.run(self._stop)

    # --- graceful shutdown --------------------------------------------------------------
    def _install_drain_on_sigterm(self) -> None:
        """On SIGTERM, close connections in batches (1012) before the server stops.

        Clients then reconnect to the other processes gradually, with their own jittered
        backoff, instead of all at once.
        """
        if self._drain_installed or threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTERM)
        loop = self.loop
        assert loop is not None

        def on_sigterm(signum, frame):
            loop.call_soon_threadsafe(
                lambda: loop.create_task(self._drain_then_stop(previous, signum, frame))
            )

        signal.signal(signal.SIGTERM, on_sigterm)
        self._drain_installed = True

    async def _drain_then_stop(self, previous, signum, frame) -> None:
        if self.draining:
            return
        self.draining = True
        batch, pause = settings.HUB_WS_DRAIN_BATCH, settings.HUB_WS_DRAIN_INTERVAL_SECONDS
        conns = list(self.connections)
        log.info("draining websocket connections", connections=len(conns), batch=batch)
        for start in range(0, len(conns), batch):
            for conn in conns[start : start + batch]:
                with contextlib.suppress(Exception):
                    await conn.close_with(protocol.CLOSE_SERVICE_RESTART, "server restarting")
            if start + batch < len(conns):
                await asyncio.sleep(pause)
        await self.ops.stop()
        if callable(previous):
            previous(signum, frame)
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    # --- heartbeats, token expiry, revalidation --------------------------------------------
    async def _sweep_loop(self) -> None:
        last_idle = last_revalidate = time.monotonic()
        while True:
            await asyncio.sleep(SWEEP_TICK_SECONDS)
            now = time.monotonic()
            try:
                await self._close_expired(time.time())
                if now - last_idle >= max(1.0, settings.HUB_WS_IDLE_TIMEOUT_SECONDS / 3):
                    last_idle = now
                    await self._close_idle(now - settings.HUB_WS_IDLE_TIMEOUT_SECONDS)
                if now - last_revalidate >= settings.HUB_WS_REVALIDATE_SECONDS:
                    last_revalidate = now
                    await self.revalidate()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("websocket sweep failed")

    async def _close_idle(self, cutoff: float) -> None:
        for conn in [c for c in self.connections if c.last_seen < cutoff]:
            await conn.close_with(protocol.CLOSE_HEARTBEAT_TIMEOUT, "heartbeat timeout")

    async def _close_expired(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] <= now:
            _, _, ref = heapq.heappop(self._expiries)
            conn = ref()
            if conn is None or conn.closing or conn not in self.connections:
                continue
            await conn.send_error(protocol.ERR_BAD_TOKEN, "token expired")
            await conn.close_with(protocol.CLOSE_UNAUTHENTICATED, "token expired")

    async def revalidate(self) -> None:
        """Re-read every connection's user and memberships; re-route or close accordingly."""
        seen = [(c, c.viewer) for c in self.connections if c.viewer is not None and not c.closing]
        if not seen:
            return
        current = await _current_viewers({viewer.user_id for _, viewer in seen})
        for conn, viewer in seen:
            if conn.closing or conn not in self.connections:
                continue
            found = current.get(viewer.user_id)
            if found is None:
                await conn.send_error(protocol.ERR_BAD_TOKEN, "unknown user")
                await conn.close_with(protocol.CLOSE_UNAUTHENTICATED, "unknown user")
            elif not found[0]:
                await conn.send_error(protocol.ERR_INACTIVE_USER, "this account is inactive")
                await conn.close_with(protocol.CLOSE_FORBIDDEN, "inactive user")
            elif found[1] != viewer:
                log.info("websocket access changed", user_id=viewer.user_id)
                self.reregister(conn, found[1])


SWEEP_TICK_SECONDS = 1.0


def _discard(index: dict[int, set], key: int, conn: Any) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(conn)
        if not members:
            del index[key]


def _inprocess_relay_wanted() -> bool:
    return triggers_write_events() and settings.HUB_INPROCESS_RELAY


dispatcher = Dispatcher()


async def publish_batch(events: list[dict[str, Any]], prev: int, upto: int) -> None:
    """Publish a gap-free batch of events (called by the relay)."""
    message = {"type": MESSAGE_TYPE, "events": events, "prev": prev, "upto": upto}
    if layer_is_local():
        await dispatcher.handle_message(message)
    else:
        await get_channel_layer().group_send(EVENTS_GROUP, message)


def publish_event_id(event_id: int) -> None:
    """After a commit on a database without triggers: wake the dispatchers to read the log.

    Registered with ``hub.domain.events.services.event_committed_connect`` at start-up.
    """
    if layer_is_local():
        dispatcher.wake_threadsafe()
    else:
        async_to_sync(get_channel_layer().group_send)(
            EVENTS_GROUP, {"type": MESSAGE_TYPE, "wake": True}
        )
