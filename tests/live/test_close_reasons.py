"""Every close the hub sends reaches a real client on daphne with its code and its reason.

daphne passes only the code of an ASGI close on to Autobahn; the consumer writes the close
frame itself (hub.consumers.hub.HubConsumer.close_with). The client here is the `websockets`
library, with a 10 s close timeout: a close that completes well within it shows the server
also ended the TCP connection, as the closing handshake requires.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests import factories
from tests.live.conftest import ROOT, Client, _wait_healthy, free_port
from tests.realtime.helpers import access_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]


def closed_by_server(c: Client, timeout: float = 10) -> tuple[int, str, float]:
    """Read until the server closes: (code, reason, seconds the close took to complete)."""
    start = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            c.recv(timeout=timeout)
    assert closed.value.rcvd is not None, "no close frame came from the server"
    assert closed.value.rcvd_then_sent, "the server did not start the closing handshake"
    return closed.value.rcvd.code, closed.value.rcvd.reason, time.monotonic() - start


def open_client(url: str) -> Client:
    return Client(url, close_timeout=10)


def test_an_expired_token_closes_4401_token_expired(live_hub):
    user = factories.UserFactory()
    c = open_client(live_hub.url(0))
    # Expired 4 s ago: still accepted thanks to the 5 s leeway, so it runs out in about 1 s.
    c.send({"type": "auth", "token": access_token(user.id, lifetime=-4)})
    assert c.recv()["type"] == "hello"
    assert c.recv() == {"type": "error", "code": "bad_token", "message": "token expired"}
    code, reason, took = closed_by_server(c)
    assert (code, reason) == (4401, "token expired")
    assert took < 5


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("forged token", (4401, "bad token")),
        ("inactive user", (4403, "inactive user")),
        ("flood", (4429, "rate limited")),
        ("frame too large", (1009, "frame too large")),
    ],
)
def test_the_close_reason_reaches_the_client(live_hub, case, expected):
    user = factories.UserFactory(is_active=case != "inactive user")
    c = open_client(live_hub.url(1))
    if case == "forged token":
        c.send({"type": "auth", "token": access_token(user.id, key="x" * 32)})
    elif case == "inactive user":
        c.send({"type": "auth", "token": access_token(user.id)})
    else:
        c.auth(user.id)
        if case == "flood":
            for _ in range(100):  # beyond the burst of 60
                c.send({"type": "ping"})
        else:
            c.ws.send("x" * (64 * 1024 + 1))
    code, reason, took = closed_by_server(c)
    assert (code, reason) == expected
    assert took < 5


def test_idle_and_restart_closes_carry_their_reasons(spare_daphne):
    user = factories.UserFactory()
    server = spare_daphne(HUB_WS_IDLE_TIMEOUT_SECONDS="1")
    idle = open_client(server.url(0))
    idle.auth(user.id)
    code, reason, _ = closed_by_server(idle)
    assert (code, reason) == (4408, "heartbeat timeout")

    busy = open_client(server.url(0))
    busy.auth(user.id)
    server.procs[0].send_signal(signal.SIGTERM)
    code, reason, took = closed_by_server(busy)
    assert (code, reason) == (1012, "server restarting")
    assert took < 5


@pytest.fixture
def uvicorn_url(live_hub):
    """The hub served by uvicorn instead of daphne (the ASGI close, reason included)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("uvicorn")),
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=live_hub.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_healthy(port, proc)
        yield f"ws://127.0.0.1:{port}/ws/"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_close_reasons_reach_the_client_on_uvicorn_too(uvicorn_url):
    user = factories.UserFactory()
    forged = open_client(uvicorn_url)
    forged.send({"type": "auth", "token": access_token(user.id, key="x" * 32)})
    assert forged.recv()["code"] == "bad_token"
    assert closed_by_server(forged)[:2] == (4401, "bad token")
    big = open_client(uvicorn_url)
    big.auth(user.id)
    big.ws.send("x" * (64 * 1024 + 1))
    assert closed_by_server(big)[:2] == (1009, "frame too large")
