"""What the consumer needs of the server under it: daphne's Autobahn protocol, and sends."""

from __future__ import annotations

import functools
from typing import Any


def daphne_protocol(send):
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


def close_reason(reason: str) -> bytes:
    # A close frame's reason is at most 123 bytes, cut at a character boundary.
    return reason.encode()[:123].decode(errors="ignore").encode()


class Resume:
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


def write_now(transport: Any, data: bytes) -> None:
    """Write a framed message to a daphne (Twisted) transport, straight to the socket if idle.

    Twisted's write only queues the bytes and registers the socket for writing, and the next
    loop turn sends them: two epoll changes and a loop turn per message, which profiling
    showed to be most of the fan-out's cost. When nothing is queued (the usual case), send
    at once as asyncio does, and hand Twisted only what the kernel did not take.
    """
    sock = getattr(transport, "socket", None)
    idle = (
        not transport.dataBuffer
        and not transport._tempDataLen
        and not getattr(transport, "TLS", False)
    )
    if sock is None or not idle:
        transport.write(data)
        return
    try:
        sent = sock.send(data)
    except BlockingIOError:
        sent = 0
    except OSError:
        return  # the connection is gone; Twisted notices on its next read
    if sent < len(data):
        transport.write(data[sent:])
