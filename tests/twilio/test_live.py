"""The whole path: signed webhook → daphne → inbox row → Redis → rundramatiq → PostgreSQL
triggers → relay → websocket push to the number owner's browser."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest
import redis
from django.conf import settings
from django.db import connection
from twilio.request_validator import RequestValidator

from hub.domain.calls.models import Call, VoicemailMessage
from hub.integrations.twilio.models import TwilioCallback
from tests import factories
from tests.live.conftest import ROOT, LiveHub, _require, client, free_port
from tests.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, call_sid

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]


def _broker_url() -> str:
    # A Redis database of its own, so no other worker on this server takes these messages.
    parts = urllib.parse.urlsplit(settings.REDIS_URL)
    return parts._replace(path=f"/{8 + os.getpid() % 8}").geturl()


@pytest.fixture(scope="module")
def twilio_hub(django_db_setup, django_db_blocker):
    _require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL=postgres://...)")
    _require(bool(settings.REDIS_URL), "Redis (REDIS_URL=redis://...)")
    db = connection.settings_dict
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "DRAMATIQ_BROKER_URL": _broker_url(),
        "HUB_CHANNEL_PREFIX": f"{settings.HUB_CHANNEL_PREFIX}twl",
        "HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
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
    hub = LiveHub(env=env, ports=[port])
    for command in (
        ["hub_relay", "--poll-interval", "0.2"],
        ["rundramatiq", "--processes", "1", "--threads", "2", "--queues", "twilio"],
    ):
        hub.procs.append(
            subprocess.Popen(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
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
        r = redis.Redis.from_url(_broker_url())
        for key in r.scan_iter("dramatiq:twilio*"):
            r.delete(key)


def _post(hub: LiveHub, path: str, params: dict) -> tuple[int, str]:
    url = f"{hub.env['HUB_PUBLIC_URL']}{path}"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    request = urllib.request.Request(  # noqa: S310 - loopback
        url,
        data=urllib.parse.urlencode(params).encode(),
        headers={"X-Twilio-Signature": signature},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, response.read().decode()


def test_voicemail_reaches_the_number_owner_browser(twilio_hub, acme, alice, bob):
    number = factories.PhoneNumberFactory(company=acme, user=bob, phone_number="+14155559000")
    sid = call_sid()
    base = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": sid,
        "From": "+14155550100",
        "To": number.phone_number,
        "Direction": "inbound",
    }
    with client(twilio_hub.url(0), bob.id) as browser:
        status, body = _post(
            twilio_hub, "/twilio/voice/incoming", {**base, "CallStatus": "ringing"}
        )
        assert status == 200 and "<Record " in body  # bob has no phone: straight to voicemail
        created = browser.next_event()
        assert (created["event"], created["data"]["twilio_call_sid"]) == ("call.created", sid)
        status, _ = _post(
            twilio_hub,
            "/twilio/voice/voicemail",
            {
                **base,
                "CallStatus": "in-progress",
                "RecordingUrl": "https://api.twilio.com/2010-04-01/Recordings/RE7",
                "RecordingSid": "RE" + "7" * 32,
                "RecordingDuration": "9",
            },
        )
        assert status == 200
        pushed = browser.next_event()
        assert pushed["event"] == "notification.created"
        assert pushed["data"]["title"] == "Voicemail from +14155550100"
        status, _ = _post(
            twilio_hub,
            "/twilio/voice/status",
            {**base, "CallStatus": "completed", "SequenceNumber": "3"},
        )
        assert status == 204
        updated = browser.next_event()
        assert (updated["event"], updated["data"]["status"]) == ("call.updated", "Completed")
    assert VoicemailMessage.objects.get().phone_number_id == number.id
    assert Call.objects.get(twilio_call_sid=sid).status == "Completed"
    assert not TwilioCallback.objects.filter(processed_at__isnull=True).exists()
