"""A web process told to stop closes its websockets in batches, then exits."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed

from tests import factories
from tests.live.conftest import Client, LiveHub, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]


def test_sigterm_drains_connections_in_batches(live_hub):
    user = factories.UserFactory()
    env = live_hub.env | {"HUB_WS_DRAIN_BATCH": "5", "HUB_WS_DRAIN_INTERVAL_SECONDS": "0.3"}
    hub = LiveHub(env=env, ports=[free_port()])
    proc = hub.start_daphne(hub.ports[0])
    clients = [Client(hub.url(0)) for _ in range(20)]
    for c in clients:
        c.auth(user.id)
    closed_at: dict[int, float] = {}
    codes: dict[int, int | None] = {}

    def watch(i: int, c: Client) -> None:
        try:
            while True:
                c.recv(timeout=20)
        except ConnectionClosed as closed:
            closed_at[i] = time.monotonic()
            codes[i] = closed.rcvd.code if closed.rcvd is not None else None

    watchers = [threading.Thread(target=watch, args=(i, c)) for i, c in enumerate(clients)]
    for w in watchers:
        w.start()
    proc.send_signal(signal.SIGTERM)
    for w in watchers:
        w.join(30)
    assert codes == dict.fromkeys(range(20), 1012)
    assert proc.wait(20) is not None
    # 20 connections in batches of 5, 0.3 s apart: the closes are spread over ~0.9 s, not at once.
    assert max(closed_at.values()) - min(closed_at.values()) >= 0.5


def test_oversized_frame_closes_with_1009_on_daphne(live_hub):
    """The protocol's own close codes reach the client on daphne (Autobahn refuses them in sendClose)."""
    user = factories.UserFactory()
    c = Client(live_hub.url(0))
    try:
        c.auth(user.id)
        c.ws.send("x" * (64 * 1024 + 1))
        error = c.recv()
        assert error["type"] == "error" and error["code"] == "frame_too_large"
        with pytest.raises(ConnectionClosed) as closed:
            c.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    finally:
        c.close()
