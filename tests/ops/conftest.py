"""Helpers for the operational tests: subprocesses with a controlled environment, log capture."""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dramatiq
import pytest
import structlog
from django.conf import settings

from hub.ops.logging import configure_logging

BASE_DIR = Path(__file__).resolve().parents[2]


@contextmanager
def global_broker(broker: dramatiq.Broker) -> Iterator[dramatiq.Broker]:
    """Make ``broker`` the process's Dramatiq broker for the block, then put the old one back."""
    previous = dramatiq.get_broker()
    dramatiq.set_broker(broker)
    try:
        yield broker
    finally:
        dramatiq.set_broker(previous)


def production_env(tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    """Return a production-like environment with nothing inherited but PATH; None drops a name."""
    from cryptography.fernet import Fernet

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "hub.example.com",
        "HUB_PUBLIC_URL": "https://hub.example.com",
        "HUB_BEHIND_PROXY": "1",
        "EMAIL_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "HUB_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
    }
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,
    )


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "manage.py", *args], env)


@pytest.fixture
def closed_port():
    """A loopback port bound but not listening: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


class CapturedLogs:
    def __init__(self, buffer: io.StringIO) -> None:
        self.buffer = buffer

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def named(self, event: str) -> list[dict]:
        return [record for record in self.records() if record.get("event") == event]


def _capture(fmt: str):
    """Configure logging as production does, with the handler writing to a buffer."""
    configure_logging(level="DEBUG", fmt=fmt)
    handler = next(
        h
        for h in logging.getLogger().handlers
        if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
    )
    buffer = io.StringIO()
    handler.setStream(buffer)
    return CapturedLogs(buffer)


@pytest.fixture
def json_logs():
    yield _capture("json")
    configure_logging(level=settings.LOG_LEVEL, fmt=settings.LOG_FORMAT)


@pytest.fixture
def console_logs():
    yield _capture("console")
    configure_logging(level=settings.LOG_LEVEL, fmt=settings.LOG_FORMAT)
