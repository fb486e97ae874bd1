"""A real deployment for tests: two daphne processes and the relay, on PostgreSQL + Redis."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from websockets.sync.client import connect

from tests.realtime.helpers import access_token

ROOT = Path(__file__).resolve().parents[2]


def _require(ok: bool, what: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"live tests need {what}, and CI must run them")
    pytest.skip(f"live tests need {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveHub:
    env: dict[str, str]
    ports: list[int]
    procs: list[subprocess.Popen] = field(default_factory=list)

    def url(self, index: int = 0) -> str:
        return f"ws://127.0.0.1:{self.ports[index]}/ws/"

    def start_daphne(self, port: int) -> subprocess.Popen:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("daphne")),
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "config.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.procs.append(proc)
        _wait_healthy(port, proc)
        return proc


def database_url(port: int | None = None) -> str:
    """The test database as a URL for a server process, optionally through another port."""
    db = connection.settings_dict
    host, user = db["HOST"] or "127.0.0.1", db["USER"] or "postgres"
    return f"postgres://{user}@{host}:{port or db['PORT'] or 5432}/{db['NAME']}"


def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"daphne exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"daphne on port {port} did not become healthy")


@pytest.fixture(scope="module")
def live_hub(django_db_setup, django_db_blocker):
    _require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL=postgres://...)")
    _require(bool(settings.REDIS_URL), "Redis (REDIS_URL=redis://...)")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DRAMATIQ_BROKER_URL": settings.REDIS_URL,
        "HUB_CHANNEL_PREFIX": f"{settings.HUB_CHANNEL_PREFIX}live",
        "SECRET_KEY": settings.SECRET_KEY,
        "HUB_JWT_SIGNING_KEY": settings.HUB_JWT_SIGNING_KEY,
        "DEBUG": "0",
        "HUB_SSL_REDIRECT": "0",
        "HUB_SECURE_COOKIES": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "DATABASE_POOL_MAX_SIZE": "4",
    }
    hub = LiveHub(env=env, ports=[free_port(), free_port()])
    relay = subprocess.Popen(
        [sys.executable, "manage.py", "hub_relay", "--poll-interval", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    hub.procs.append(relay)
    try:
        for port in hub.ports:
            hub.start_daphne(port)
        yield hub
    finally:
        for proc in hub.procs:
            proc.terminate()
        for proc in hub.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def spare_daphne(live_hub):
    """Return ``start(**env)``: a daphne process of its own (beside live_hub's relay).

    A test may stop and restart it, or give it settings of its own.
    """
    hubs: list[LiveHub] = []

    def start(**env: str) -> LiveHub:
        hub = LiveHub(env=live_hub.env | env, ports=[free_port()])
        hubs.append(hub)
        hub.start_daphne(hub.ports[0])
        return hub

    yield start
    for proc in (p for hub in hubs for p in hub.procs):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


class TcpProxy:
    """A TCP forwarder on loopback (to PostgreSQL) that a test stops and starts: an outage.

    Stopped, it refuses new connections and cuts the open ones, as a database host that went
    away would; the server behind it sees real connection errors, not a mock.
    """

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host, self.target_port = host, target_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None

    def start(self) -> None:
        listener = socket.create_server((self.host, self.port))  # SO_REUSEADDR on POSIX
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown wakes the thread blocked in accept() and stops listening at once.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)
        deadline = time.monotonic() + 10
        while _accepts(self.host, self.port):
            assert time.monotonic() < deadline, "the stopped proxy still accepts connections"
            time.sleep(0.05)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.host, self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    _close(client)
                    _close(upstream)
                    continue
                self._sockets |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(src)
            _close(dst)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def db_proxy(live_hub):
    """A started TcpProxy to the test database; ``database_url(db_proxy.port)`` goes through it."""
    proxy = TcpProxy(int(connection.settings_dict["PORT"] or 5432))
    proxy.start()
    yield proxy
    proxy.stop()


def wait_for(condition, timeout: float = 30, what: str = "the condition"):
    """Poll ``condition()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Client:
    """A real websocket client of the hub."""

    def __init__(self, url: str, **options) -> None:
        self.ws = connect(url, origin="http://127.0.0.1", open_timeout=10, **options)
        self.hello: dict | None = None

    def send(self, frame: dict) -> None:
        self.ws.send(json.dumps(frame))

    def recv(self, timeout: float = 10) -> dict:
        return json.loads(self.ws.recv(timeout=timeout))

    def auth(self, user_id: int) -> dict:
        self.send({"type": "auth", "token": access_token(user_id)})
        self.hello = self.recv()
        assert self.hello["type"] == "hello", self.hello
        return self.hello

    def next_event(self, timeout: float = 10) -> dict:
        while True:
            frame = self.recv(timeout)
            if frame["type"] == "event":
                return frame

    def close(self) -> None:
        self.ws.close()


@contextmanager
def client(url: str, user_id: int | None = None):
    c = Client(url)
    try:
        if user_id is not None:
            c.auth(user_id)
        yield c
    finally:
        c.close()
