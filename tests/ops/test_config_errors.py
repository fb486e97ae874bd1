"""A malformed setting stops start-up with one line naming the variable, exit status 2."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.ops.conftest import manage, production_env, run

DAPHNE = str(Path(__import__("sys").executable).parent / "daphne")

CASES = [
    ("DATABASE_URL", {"DATABASE_URL": "notaurl"}),
    ("DATABASE_URL", {"DATABASE_URL": "postgres://host:notaport/db"}),
    ("DATABASE_URL", {"DATABASE_URL": "postgres://127.0.0.1:5432"}),
    ("DATABASE_URL", {"DATABASE_URL": "mysql://db/hub"}),
    ("DATABASE_URL_FILE", {"DATABASE_URL": None, "DATABASE_URL_FILE": "/nonexistent/db-url"}),
    ("REDIS_URL", {"REDIS_URL": "http://127.0.0.1:6379/0"}),
    ("REDIS_URL", {"REDIS_URL": "127.0.0.1:6379"}),
    ("DRAMATIQ_BROKER_URL", {"DRAMATIQ_BROKER_URL": "kafka://broker:9092"}),
    ("HUB_WS_MAX_FRAME_BYTES", {"HUB_WS_MAX_FRAME_BYTES": "abc"}),
    ("HUB_WS_MAX_FRAME_BYTES", {"HUB_WS_MAX_FRAME_BYTES": "10"}),
    ("HUB_WS_RATE_PER_SECOND", {"HUB_WS_RATE_PER_SECOND": "fast"}),
    ("SECRET_KEY", {"SECRET_KEY": None}),
    ("SECRET_KEY", {"SECRET_KEY": ""}),
    ("SECRET_KEY_FILE", {"SECRET_KEY": None, "SECRET_KEY_FILE": "/nonexistent/secret-key"}),
    ("EMAIL_ENCRYPTION_KEY", {"EMAIL_ENCRYPTION_KEY": "not-a-fernet-key"}),
    ("EMAIL_ENCRYPTION_KEY", {"EMAIL_ENCRYPTION_KEY": "Zm9v,"}),
    ("DEBUG", {"DEBUG": "maybe"}),
    ("HUB_BEHIND_PROXY", {"HUB_BEHIND_PROXY": "sometimes"}),
    ("LOG_LEVEL", {"LOG_LEVEL": "verbose"}),
    ("LOG_FORMAT", {"LOG_FORMAT": "xml"}),
    ("HUB_PUBLIC_URL", {"HUB_PUBLIC_URL": "hub.example.com"}),
    ("HUB_TWILIO_BATCH_SIZE", {"HUB_TWILIO_BATCH_SIZE": "0"}),
    ("HUB_TWILIO_BATCH_WAIT_MS", {"HUB_TWILIO_BATCH_WAIT_MS": "5000"}),
    ("HUB_TWILIO_BATCH_WAIT_MS", {"HUB_TWILIO_BATCH_WAIT_MS": "-1"}),
]
if importlib.util.find_spec("pika") is None:
    CASES.append(("DRAMATIQ_BROKER_URL", {"DRAMATIQ_BROKER_URL": "amqp://127.0.0.1:5672"}))


def assert_one_line_naming(result, name: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"configuration error: {name}: "), lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.mark.parametrize(("name", "overrides"), CASES, ids=[f"{n}={o}" for n, o in CASES])
def test_manage_check_prints_one_line(tmp_path, name, overrides):
    result = manage(production_env(tmp_path, **overrides), "check")

    assert_one_line_naming(result, name)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "postgres://hub:{password}@db:notaport/hub"),
        ("DATABASE_URL", "mysql://hub:{password}@db/hub"),
        ("REDIS_URL", "http://:{password}@cache:6379/0"),
        ("DRAMATIQ_BROKER_URL", "kafka://user:{password}@broker:9092"),
    ],
)
def test_error_line_never_shows_a_password(tmp_path, name, value):
    password = "s3cret-Passw0rd-in-url"
    result = manage(production_env(tmp_path, **{name: value.format(password=password)}), "check")

    line = assert_one_line_naming(result, name)
    assert password not in line
    assert "***" in line


def test_good_configuration_passes(tmp_path):
    result = manage(production_env(tmp_path), "check")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("HUB_WS_MAX_FRAME_BYTES", {"HUB_WS_MAX_FRAME_BYTES": "abc"}),
        ("DATABASE_URL", {"DATABASE_URL": "notaurl"}),
        ("SECRET_KEY", {"SECRET_KEY": None}),
    ],
    ids=["HUB_WS_MAX_FRAME_BYTES", "DATABASE_URL", "SECRET_KEY"],
)
def test_daphne_prints_the_same_one_line(tmp_path, name, overrides):
    env = production_env(tmp_path, **overrides)

    result = run([DAPHNE, "-b", "127.0.0.1", "-p", "0", "config.asgi:application"], env)

    assert result.returncode != 0
    assert_one_line_naming(result, name)
