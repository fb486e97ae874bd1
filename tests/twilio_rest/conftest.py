"""The loopback fake of Twilio's REST API, and the settings that point the hub at it."""

from __future__ import annotations

import socket

import pytest

from tests.twilio_rest.fake_twilio import FakeTwilio


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def twilio_settings(settings, fake_twilio):
    settings.TWILIO_ACCOUNT_SID = fake_twilio.account_sid
    settings.TWILIO_AUTH_TOKEN = fake_twilio.auth_token
    settings.TWILIO_API_BASE_URL = fake_twilio.url
    settings.TWILIO_HTTP_TIMEOUT_SECONDS = 2.0
    return settings


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
