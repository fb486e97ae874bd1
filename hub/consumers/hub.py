"""The websocket endpoint ``/ws/``: authentication, live events, resume, client actions."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections import deque
from typing import Any

import structlog
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from hub.consumers import protocol
from hub.consumers.dispatcher import dispatcher
from hub.consumers.tokens import TokenError, access_token_decode
from hub.domain.events.audience import Viewer
from hub.ops.middleware import request_id_from

log = structlog.get_logger("hub.ws")


def _db(func):
    # Reads for one connection at a time need no shared thread: run them on any worker thread.
    return database_sync_to_async(func, thread_sensitive=False)


@_db
def _user_by_id(user_id: int):
    from hub.domain.authentication.models import User

    return User.objects.filter(pk=user_id).first()


@_db
def _viewer_and_hello(user) -> tuple[Viewer, dict[str, Any]]:
    from hub.domain.events.selectors import viewer_memberships

    viewer, memberships = viewer_memberships(user=user)
    companies = [
        {
            "id": m.company_id,
            "name": m.company.company_name,
            "role": m.role,
            "can_manage_deals": m.can_manage_deals,
        }
        for m in memberships
    ]
    hello = {
        "user": {
            "id": user.id,
            "email": user.email,
            "name": user.get_full_name(),
            "account_type": user.account_type,
        },
        "company": companies[0] if companies else None,
        "companies": companies,
    }
    return viewer, hello


@_db
def _replay(viewer: Viewer, after: int, upto: int) -> tuple[bool, list[dict[str, Any]]]:
    from hub.consumers.fanout import event_wire
    from hub.domain.events.selectors import event_list_after, event_replay_incomplete

    if event_replay_incomplete(viewer=viewer, after=after):
        return False, []
    events: list[dict[str, Any]] = []
    cursor = after
    while True:
        batch = event_list_after(viewer=viewer, after=cursor, upto=upto, limit=1000)
        events.extend(event_wire(e) for e in batch)
        if len(batch) < 1000:
            return True, events
        cursor = batch[-1].id


@database_sync_to_async
def _mark_read(user, notification_id: str | None, everything: bool) -> int | None:
    from django.core.exceptions import ValidationError

    from hub.domain.notifications.services import (
        notification_mark_read,
        notifications_mark_all_read,
    )

    if everything:
        return notifications_mark_all_read(user=user)
    assert notification_id is not None, "the frame gives an id when it does not say all"
    try:
        notification = notification_mark_read(user=user, notification_id=notification_id)
    except (ValidationError, ValueError):
        return None
    return None if notification is None else 1


def _daphne_protocol(send):
    """The Autobahn protocol behind an ASGI ``send`` when serving on daphne, else None.

    Channels' session middleware wraps ``send``; daphne's is ``partial(handle_reply, protocol)``.
    With the protocol, an event framed once (Autobahn's prepareMessage) is written to every
    connection, and the transport's backlog shows how far behind a client is.
    """
    for _ in range(5):
        owner = getattr(send, "__self__", None)
        if owner is not None and hasattr(owner, "real_send"):
            send = owner.real_send
            continue
        if (
            isinstance(send, functools.partial)
            and getattr(send.func, "__name__", "") == "handle_reply"
            and send.args
        ):
            protocol_ = send.args[0]
            return protocol_ if hasattr(protocol_, "sendPreparedMessage") else None
        return None
    return None


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
        self.raw = _daphne_protocol(self.base_send)
        await self.accept()
        session_user = self.scope.get("user")
        if session_user is not None and session_user.is_authenticated:
            await self._start_session(session_user)
        else:
            loop = asyncio.get_running_loop()
            self._auth_timer = loop.call_later(
                settings.HUB_WS_AUTH_TIMEOUT_SECONDS, lambda: loop.create_task(self._auth_timeout())
            )

    async def disconnect(self, code: int) -> None:
        self.closing = True
        if self._auth_timer is not None:
            self._auth_timer.cancel()
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
        user = await _user_by_id(token.user_id)
        if user is None:
            await self.send_error(protocol.ERR_BAD_TOKEN, "unknown user")
            await self.close_with(protocol.CLOSE_UNAUTHENTICATED, "unknown user")
            return
        await self._start_session(user, expires_at=token.valid_until)

    async def _start_session(self, user, *, expires_at: float | None = None) -> None:
        if dispatcher.draining:
            await self.close_with(protocol.CLOSE_SERVICE_RESTART, "server restarting")
            return
        if not user.is_active:
            await self.send_error(protocol.ERR_INACTIVE_USER, "this account is inactive")
            await self.close_with(protocol.CLOSE_FORBIDDEN, "inactive user")
            return
        if self._auth_timer is not None:
            self._auth_timer.cancel()
            self._auth_timer = None
        await dispatcher.ensure_started()
        viewer, hello = await _viewer_and_hello(user)
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

    async def _auth_timeout(self) -> None:
        if self.user is None and not self.closing:
            await self.send_error(protocol.ERR_AUTH_REQUIRED, "no auth frame within the time limit")
            await self.close_with(protocol.CLOSE_UNAUTHENTICATED, "auth timeout")

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
            recovered, events = await _replay(self.viewer, after, upto)
            if not recovered:
                await self.send_frame(
                    {"type": "reset", "reason": "beyond_replay_window", "latest_event_id": upto}
                )
                sent: set[int] = set()
            else:
                sent = set()
                for event in events:
                    sent.add(event["id"])
                    await self._write(
                        {"type": "websocket.send", "text": protocol.event_frame_text(event)}
                    )
                await self.send_frame(
                    {
                        "type": "resumed",
                        "after": after,
                        "replayed": len(events),
                        "recovered": True,
                        "latest_event_id": upto,
                    }
                )
            pending, self.pending = self.pending, _NO_PENDING
            for event_id, message in pending:
                if event_id not in sent and (not recovered or event_id > after):
                    await self._write(message)
        finally:
            self.replaying = False
            self.pending = _NO_PENDING

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
        count = await _mark_read(self.user, notification_id, everything)
        if count is None:
            await self.send_error(
                protocol.ERR_NOT_FOUND, "no such notification", ref=frame.get("ref")
            )
            return
        reply: dict[str, Any] = {"type": "ack", "action": "notification.read", "count": count}
        if frame.get("ref") is not None:
            reply["ref"] = frame["ref"]
        await self.send_frame(reply)

    _ACTIONS = {"resume": _resume, "notification.read": _notification_read}

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
            await _Resume(coro, blocked_on)
            while self.outbox and not self.closing:
                await self.base_send(self.outbox.popleft())
        except Exception:
            self.outbox = _NO_OUTBOX
        finally:
            self.sending = False

    async def send_frame(self, frame: dict) -> None:
        await self._write({"type": "websocket.send", "text": protocol.encode(frame)})

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
        if raw is not None and code != 1000 and not 3000 <= code <= 4999:
            # Autobahn's sendClose, which daphne calls, refuses the protocol's own codes
            # (1009 message too big, 1012 service restart) and the client would see 1006.
            # sendCloseFrame sends any valid code as-is.
            raw.sendCloseFrame(code=code, reasonUtf8=reason.encode()[:123], isReply=False)
            return
        await self.base_send({"type": "websocket.close", "code": code, "reason": reason})


class _Resume:
    """Await the rest of a coroutine that was started by hand and suspended on ``blocked_on``."""

    def __init__(self, coro, blocked_on) -> None:
        self.coro, self.blocked_on = coro, blocked_on

    def __await__(self):
        value = self.blocked_on
        while True:
            try:
                sent = yield value
            except BaseException as exc:
                try:
                    value = self.coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = self.coro.send(sent)
                except StopIteration as stop:
                    return stop.value
