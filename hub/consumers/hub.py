"""The websocket endpoint ``/ws/``: authentication, live events, resume, client actions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, TypeVar

import structlog
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from hub.consumers import protocol, reads, transport
from hub.consumers.auth import session_user
from hub.consumers.dispatcher import dispatcher
from hub.consumers.tokens import TokenError, access_token_decode
from hub.domain.events.audience import Viewer
from hub.domain.events.selectors import replay_cutoff
from hub.ops.middleware import request_id_from

log = structlog.get_logger("hub.ws")

T = TypeVar("T")


class _Unavailable:
    """The database did not answer in time; the connection has been closed (1013)."""


_UNAVAILABLE = _Unavailable()

# Shared empty placeholders: an idle connection allocates no queue of its own.
_NO_OUTBOX: deque = deque(maxlen=0)
_NO_PENDING: list = []


class HubConsumer(AsyncWebsocketConsumer):
    # No per-connection channel-layer channel: events arrive through the process dispatcher.
    channel_layer_alias = "hub.no-per-connection-channel"

    user = None
    viewer: Viewer | None = None
    # When the access token the connection authenticated with runs out (time.time()); a
    # session has none.
    expires_at: float | None = None
    closing = False
    replaying = False

    async def dispatch(self, message: dict) -> None:
        # Like AsyncConsumer.dispatch, without closing old database connections on every frame:
        # the database helpers above manage their connections themselves.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        # The upgrade request's X-Request-ID (when sane) names the connection in every log line
        # of its task, as an HTTP request's id does (hub.ops.middleware).
        given = dict(self.scope.get("headers", ())).get(b"x-request-id", b"")
        self.request_id = request_id_from(given.decode("latin-1"))
        structlog.contextvars.bind_contextvars(request_id=self.request_id)
        self.last_seen = time.monotonic()
        self.outbox: deque = _NO_OUTBOX  # replaced by a real deque when a send must wait
        self.pending: list[tuple[int, dict]] = _NO_PENDING
        self.sending = False
        self.tokens = float(settings.HUB_WS_RATE_BURST)
        self.tokens_at = self.last_seen
        self._auth_timer: asyncio.TimerHandle | None = None
        self.raw = transport.daphne_protocol(self.base_send)
        await self.accept()
        if "session" in self.scope:
            # A session cookie (hub.consumers.auth): its user is read here, within the limit.
            deadline = self._database_deadline()
            user = await self._within(deadline, session_user(self.scope))
            if isinstance(user, _Unavailable):
                return
            if user.is_authenticated:
                await self._start_session(user, deadline=deadline)
                return
        loop = asyncio.get_running_loop()
        self._auth_timer = loop.call_later(
            settings.HUB_WS_AUTH_TIMEOUT_SECONDS, lambda: loop.create_task(self._auth_timeout())
        )

    async def disconnect(self, code: int) -> None:
        self.closing = True
        self._cancel_auth_timer()
        dispatcher.unregister(self)

    # --- incoming frames ---------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.last_seen = time.monotonic()
        if not self._take_token():
            await self.close_with(protocol.CLOSE_RATE_LIMITED, "rate limited")
            return
        raw = text_data if text_data is not None else bytes_data or b""
        if len(raw) > settings.HUB_WS_MAX_FRAME_BYTES:
            await self.send_error(
                protocol.ERR_FRAME_TOO_LARGE,
                f"frames are limited to {settings.HUB_WS_MAX_FRAME_BYTES} bytes",
            )
            await self.close_with(protocol.CLOSE_TOO_BIG, "frame too large")
            return
        try:
            frame = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            await self.send_error(protocol.ERR_INVALID_JSON, "frames must be JSON objects")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error(
                protocol.ERR_INVALID_FRAME, 'frames must be objects with a string "type"'
            )
            return
        kind = frame["type"]
        ref = frame.get("ref")
        if kind == "ping":
            await self.send_frame(
                {"type": "pong", "ref": ref} if ref is not None else {"type": "pong"}
            )
            return
        if kind == "auth":
            await self._auth(frame)
            return
        if self.user is None:
            await self.send_error(
                protocol.ERR_AUTH_REQUIRED, 'send {"type": "auth", "token": ...} first', ref=ref
            )
            return
        handler = self._ACTIONS.get(kind)
        if handler is None:
            await self.send_error(
                protocol.ERR_UNKNOWN_TYPE, f"unknown frame type {kind!r}", ref=ref
            )
            return
        await handler(self, frame)

    def _take_token(self) -> bool:
        now = time.monotonic()
        self.tokens = min(
            float(settings.HUB_WS_RATE_BURST),
            self.tokens + (now - self.tokens_at) * settings.HUB_WS_RATE_PER_SECOND,
        )
        self.tokens_at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    # --- authentication ----------------------------------------------------------------
    async def _auth(self, frame: dict) -> None:
        if self.user is not None:
            await self.send_error(
                protocol.ERR_ALREADY_AUTHENTICATED,
                "this connection is authenticated",
                ref=frame.get("ref"),
            )
            return
        try:
            token = access_token_decode(frame.get("token"))
        except TokenError as exc:
            await self.send_error(protocol.ERR_BAD_TOKEN, str(exc))
            await self.close_with(protocol.CLOSE_UNAUTHENTICATED, "bad token")
            return
        # The frame came in time: from here the database reads have their own limit (a
        # database outage must not look like a missing auth frame, 4401, to the client).
        self._cancel_auth_timer()
        deadline = self._database_deadline()
        user = await self._within(deadline, reads.user_by_id(token.user_id))
        if isinstance(user, _Unavailable):
            return
        if user is None:
            await self.send_error(protocol.ERR_BAD_TOKEN, "unknown user")
            await self.close_with(protocol.CLOSE_UNAUTHENTICATED, "unknown user")
            return
        await self._start_session(user, deadline=deadline, expires_at=token.valid_until)

    async def _start_session(
        self, user, *, deadline: float, expires_at: float | None = None
    ) -> None:
        if dispatcher.draining:
            await self.close_with(protocol.CLOSE_SERVICE_RESTART, "server restarting")
            return
        if not user.is_active:
            await self.send_error(protocol.ERR_INACTIVE_USER, "this account is inactive")
            await self.close_with(protocol.CLOSE_FORBIDDEN, "inactive user")
            return
        self._cancel_auth_timer()
        found = await self._within(deadline, self._viewer_and_hello(user))
        if isinstance(found, _Unavailable):
            return
        viewer, hello = found
        self.user, self.viewer, self.expires_at = user, viewer, expires_at
        dispatcher.register(self, viewer)
        hello.update(
            {
                "type": "hello",
                "latest_event_id": dispatcher.latest_id(),
                "replay_window_seconds": settings.HUB_REPLAY_WINDOW_SECONDS,
                "max_frame_bytes": settings.HUB_WS_MAX_FRAME_BYTES,
                "heartbeat_seconds": settings.HUB_WS_IDLE_TIMEOUT_SECONDS / 3,
            }
        )
        await self.send_frame(hello)

    @staticmethod
    async def _viewer_and_hello(user) -> tuple[Viewer, dict[str, Any]]:
        await dispatcher.ensure_started()  # reads how far delivery has settled, once per process
        return await reads.viewer_and_hello(user)

    async def _auth_timeout(self) -> None:
        if self.user is None and not self.closing:
            await self.send_error(protocol.ERR_AUTH_REQUIRED, "no auth frame within the time limit")
            await self.close_with(protocol.CLOSE_UNAUTHENTICATED, "auth timeout")

    def _cancel_auth_timer(self) -> None:
        if self._auth_timer is not None:
            self._auth_timer.cancel()
            self._auth_timer = None

    @staticmethod
    def _database_deadline() -> float:
        return asyncio.get_running_loop().time() + settings.HUB_WS_AUTH_DB_TIMEOUT_SECONDS

    async def _within(self, deadline: float, work: Awaitable[T]) -> T | _Unavailable:
        """Await the database reads of authenticating, until ``deadline`` (the loop's clock).

        An unreachable or stalled database (a pool that waits for a connection) answers
        ``unavailable`` and 1013, which clients retry with backoff, rather than 4401, after
        which they would give up as if signed out.
        """
        try:
            async with asyncio.timeout_at(deadline):
                return await work
        except (TimeoutError, DatabaseError) as exc:
            log.warning("database unavailable while authenticating", error=repr(exc))
            await self.send_error(
                protocol.ERR_UNAVAILABLE, "the service is unavailable for a moment; try again"
            )
            await self.close_with(protocol.CLOSE_TRY_AGAIN_LATER, "database unavailable")
            return _UNAVAILABLE

    # --- actions -----------------------------------------------------------------------
    async def _resume(self, frame: dict) -> None:
        after = frame.get("after")
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            await self.send_error(
                protocol.ERR_INVALID_FRAME,
                '"after" must be a non-negative integer',
                ref=frame.get("ref"),
            )
            return
        assert self.viewer is not None
        self.replaying = True
        try:
            upto = dispatcher.latest_id()
            # One window for every query of this resume, so no event leaves it in between.
            since = replay_cutoff()
            reason = await reads.replay_refusal(self.viewer, after, upto, since)
            if reason is not None:
                await self.send_frame({"type": "reset", "reason": reason, "latest_event_id": upto})
            else:
                replayed = await self._replay(after, upto, since)
                if replayed is None:
                    return  # closed while replaying
                await self.send_frame(
                    {
                        "type": "resumed",
                        "after": after,
                        "replayed": replayed,
                        "recovered": True,
                        "latest_event_id": upto,
                    }
                )
            # Held live events: after a replay, those it covered (ids up to upto) and those
            # the client had (up to after) are not sent again.
            seen = -1 if reason is not None else max(after, upto)
            pending, self.pending = self.pending, _NO_PENDING
            for event_id, message in pending:
                if event_id > seen:
                    await self._write(message)
        finally:
            self.replaying = False
            self.pending = _NO_PENDING

    async def _replay(self, after: int, upto: int, since: datetime) -> int | None:
        """Send the events in (after, upto] the viewer may see, a page at a time.

        Each page is written, and taken by the client, before the next is read: a replay holds
        one page in memory, not the whole backlog. Returns how many were sent, None if the
        connection closed meanwhile.
        """
        assert self.viewer is not None
        cursor, replayed = after, 0
        while True:
            page = await reads.replay_page(self.viewer, cursor, upto, since)
            for _, text in page:
                await self._write({"type": "websocket.send", "text": text})
            replayed += len(page)
            if len(page) < protocol.REPLAY_PAGE_SIZE:
                return None if self.closing else replayed
            cursor = page[-1][0]
            if not await self._drained():
                return None

    async def _drained(self) -> bool:
        """Wait until the client has taken what was written (or the send buffer's worth).

        False when the connection closed, or was closed as too slow (4409), meanwhile.
        """
        deadline = time.monotonic() + settings.HUB_WS_IDLE_TIMEOUT_SECONDS
        while not self.closing:
            left = deadline - time.monotonic()
            if left <= 0:
                await self.close_with(protocol.CLOSE_SLOW_CONSUMER, "too far behind")
            elif self.raw is not None:
                # Twisted has no awaitable for its write buffer; its backlog is checked
                # every few milliseconds, as the client reads.
                if self.raw_backlog() <= settings.HUB_WS_SEND_BUFFER_BYTES:
                    return True
                await asyncio.sleep(0.005)
            elif self.sending:
                # Other servers: the queued sends finish as the client reads (shielded: the
                # sending task outlives this wait).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._drain), left)
            else:
                return True
        return False

    async def _notification_read(self, frame: dict) -> None:
        everything = frame.get("all") is True
        notification_id = frame.get("id")
        if not everything and not isinstance(notification_id, str):
            await self.send_error(
                protocol.ERR_INVALID_FRAME,
                'give "id" (a notification id) or "all": true',
                ref=frame.get("ref"),
            )
            return
        count = await reads.mark_read(self.user, notification_id, everything)
        if count is None:
            await self.send_error(
                protocol.ERR_NOT_FOUND, "no such notification", ref=frame.get("ref")
            )
            return
        reply: dict[str, Any] = {"type": "ack", "action": "notification.read", "count": count}
        if frame.get("ref") is not None:
            reply["ref"] = frame["ref"]
        await self.send_frame(reply)

    async def _ops_subscribe(self, frame: dict) -> None:
        ref = frame.get("ref")
        if not (self.viewer is not None and self.viewer.every_company):
            await self.send_error(
                protocol.ERR_FORBIDDEN, "the operations figures are for superusers only", ref=ref
            )
            return
        latest = dispatcher.ops.subscribe(self)
        await self._ack("ops.subscribe", ref)
        if latest is not None:
            await self.send_text(latest)

    async def _ops_unsubscribe(self, frame: dict) -> None:
        dispatcher.ops.subscribers.discard(self)
        await self._ack("ops.unsubscribe", frame.get("ref"))

    async def _ack(self, action: str, ref: Any) -> None:
        await self.send_frame(
            {"type": "ack", "action": action} | ({"ref": ref} if ref is not None else {})
        )

    _ACTIONS = {
        "resume": _resume,
        "notification.read": _notification_read,
        "ops.subscribe": _ops_subscribe,
        "ops.unsubscribe": _ops_unsubscribe,
    }

    # --- outgoing ----------------------------------------------------------------------
    async def deliver(self, event_id: int, message: dict) -> None:
        """Called by the dispatcher with an already encoded event frame."""
        if self.closing:
            return
        if self.replaying:
            if self.pending is _NO_PENDING:
                self.pending = []
            self.pending.append((event_id, message))
            if len(self.pending) > settings.HUB_WS_SEND_BUFFER:
                await self.close_with(protocol.CLOSE_SLOW_CONSUMER, "too far behind")
            return
        await self._write(message)

    def raw_backlog(self) -> int:
        """Bytes written to this client that the kernel has not taken yet (daphne only)."""
        transport = getattr(self.raw, "transport", None)
        if transport is None:
            return 0
        buffered = len(getattr(transport, "dataBuffer", b"")) - getattr(transport, "offset", 0)
        return buffered + getattr(transport, "_tempDataLen", 0)

    async def _write(self, message: dict) -> None:
        if self.closing:
            return
        if self.sending:
            # A send is still in progress (the server applies back-pressure): queue, bounded.
            if len(self.outbox) >= settings.HUB_WS_SEND_BUFFER:
                await self.close_with(protocol.CLOSE_SLOW_CONSUMER, "too far behind")
                return
            if self.outbox is _NO_OUTBOX:
                self.outbox = deque()
            self.outbox.append(message)
            return
        # Run the send eagerly: on daphne it completes at once; where it must wait for the
        # client, it finishes in a background task so the caller (the fan-out) never waits.
        coro = self.base_send(message)
        try:
            blocked_on = coro.send(None)
        except StopIteration:
            return
        self.sending = True
        self._drain = asyncio.ensure_future(self._finish_sending(coro, blocked_on))

    async def _finish_sending(self, coro, blocked_on) -> None:
        try:
            await transport.Resume(coro, blocked_on)
            while self.outbox and not self.closing:
                await self.base_send(self.outbox.popleft())
        except Exception:
            self.outbox = _NO_OUTBOX
        finally:
            self.sending = False

    async def send_frame(self, frame: dict) -> None:
        await self.send_text(protocol.encode(frame))

    async def send_text(self, text: str) -> None:
        await self._write({"type": "websocket.send", "text": text})

    async def send_error(self, code: str, message: str, *, ref: Any = None) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if ref is not None:
            frame["ref"] = ref
        await self.send_frame(frame)

    async def close_with(self, code: int, reason: str = "") -> None:
        if self.closing:
            return
        self.closing = True
        self.outbox = _NO_OUTBOX
        dispatcher.unregister(self)
        log.info(
            "closing websocket",
            code=code,
            reason=reason,
            user_id=getattr(self.user, "id", None),
            # Also when another task (the dispatcher) closes it.
            request_id=getattr(self, "request_id", None),
        )
        raw = self.raw
        if raw is not None and raw.state != raw.STATE_CONNECTING:
            # daphne turns an ASGI close into Autobahn's sendClose(code), dropping the reason
            # (hub.js needs "token expired"), and sendClose refuses the protocol's own codes
            # (1009, 1011, 1012, 1013: the client would see 1006). sendClose only checks its
            # arguments and calls sendCloseFrame, which starts the same closing handshake: the
            # state becomes CLOSING, and the client's answering close frame (or, without one,
            # closeHandshakeTimeout) drops the TCP connection; daphne then sees onClose as
            # usual. On a connection already closing or closed it does nothing.
            raw.sendCloseFrame(code=code, reasonUtf8=transport.close_reason(reason), isReply=False)
            return
        await self.base_send({"type": "websocket.close", "code": code, "reason": reason})
