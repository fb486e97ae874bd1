"""A real deployment for tests: two daphne processes and the relay, on PostgreSQL + Redis."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
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
    db = connection.settings_dict
    database_url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
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


class Client:
    """A real websocket client of the hub."""

    def __init__(self, url: str) -> None:
        self.ws = connect(url, origin="http://127.0.0.1", open_timeout=10)
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
