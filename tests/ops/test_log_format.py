"""Logs are JSON lines when standard error is not a terminal, human-readable when it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.ops.conftest import BASE_DIR, production_env, run

LOG_ONE_LINE = (
    "import django, logging, structlog; django.setup(); "
    "structlog.get_logger('hub.example').warning('hello', token='t0ken-value', call_sid='CA1')"
)


def test_json_when_stderr_is_not_a_terminal(tmp_path):
    result = run([sys.executable, "-c", LOG_ONE_LINE], production_env(tmp_path))

    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.splitlines()
    record = json.loads(line)
    assert record["event"] == "hello"
    assert record["level"] == "warning"
    assert record["logger"] == "hub.example"
    assert record["call_sid"] == "CA1"
    assert record["token"] == "[redacted]"
    assert "timestamp" in record


def test_console_when_stderr_is_a_terminal(tmp_path):
    primary, secondary = os.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-c", LOG_ONE_LINE],
            cwd=BASE_DIR,
            env=production_env(tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=secondary,
            timeout=120,
            check=False,
        )
        os.close(secondary)
        output = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(primary)

    assert process.returncode == 0, output
    text = output.decode()
    assert "hello" in text
    assert "t0ken-value" not in text
    assert not text.lstrip().startswith("{")


def test_log_format_setting_wins_over_the_terminal_guess(tmp_path):
    env = production_env(tmp_path, LOG_FORMAT="console")
    result = run([sys.executable, "-c", LOG_ONE_LINE], env)

    assert result.returncode == 0
    assert "hello" in result.stderr
    assert not result.stderr.lstrip().startswith("{")
