"""Slack fixtures: requests signed as Slack signs them, a loopback fake Slack, a real worker.

The Twilio REST side is the loopback FakeTwilio of tests/twilio_rest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import dramatiq
import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test import Client
from django_dramatiq.middleware import DbConnectionsMiddleware
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Retries, TimeLimit

from hub.domain.calls.services import phone_number_add
from hub.integrations.slack.services import (
    slack_installation_register,
    slack_installations_forget,
)
from hub.workers import slack as slack_worker
from hub.workers import slack_alerts, slack_crm, slack_events, slack_leads
from tests.slack.fake_slack import FakeSlack
from tests.twilio_rest.conftest import fake_twilio, twilio_settings  # noqa: F401 (fixtures)

SIGNING_SECRET = "slack-test-signing-secret-8d1f"
ACME_TEAM, GLOBEX_TEAM = "TACME0001", "TGLOBEX01"
ACME_TOKEN, GLOBEX_TOKEN = "xoxb-acme-0001", "xoxb-globex-0001"


def signature(body: str, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    """Slack's v0 signature: HMAC-SHA256 of ``v0:<timestamp>:<body>`` with the signing secret."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def post_signed(
    client: Client,
    body: str,
    *,
    timestamp: str | None = None,
    sign: str | None = "sign",
    headers: bool = True,
):
    """POST a form body to /slack/events as Slack does, signed unless told otherwise."""
    timestamp = timestamp or str(int(time.time()))
    extra = {}
    if headers:
        extra["X-Slack-Request-Timestamp"] = timestamp
        extra["X-Slack-Signature"] = signature(body, timestamp) if sign == "sign" else sign
    return client.post(
        "/slack/events",
        body,
        content_type="application/x-www-form-urlencoded",
        headers=extra,
    )


class SlackUser:
    """A person in a Slack workspace who sends commands and clicks buttons."""

    def __init__(self, client: Client, fake: FakeSlack, *, team_id: str, user_id: str) -> None:
        self.client, self.fake = client, fake
        self.team_id, self.user_id = team_id, user_id
        self.sent = 0

    def command(self, text: str, *, command: str = "/call", **kwargs):
        self.sent += 1
        self.last_key = f"{self.user_id}-{self.sent}"
        body = urlencode(
            {
                "token": "deprecated-verification-token",
                "team_id": self.team_id,
                "team_domain": "workspace",
                "channel_id": "C0SALES01",
                "channel_name": "sales",
                "user_id": self.user_id,
                "user_name": self.user_id.lower(),
                "command": command,
                "text": text,
                "api_app_id": "A0HUB0001",
                "is_enterprise_install": "false",
                "response_url": self.fake.response_url(self.last_key),
                "trigger_id": f"{self.sent}.123.abc",
            }
        )
        return post_signed(self.client, body, **kwargs)

    def click(
        self,
        action_id: str,
        value: str,
        *,
        message_ts: str = "1700000000.000200",
        block_id: str = "call_choices",
        **kwargs,
    ):
        """Click a button of the (ephemeral) message ``message_ts``, in block ``block_id``."""
        self.sent += 1
        self.last_key = f"{self.user_id}-{self.sent}"
        payload = {
            "type": "block_actions",
            "team": {"id": self.team_id, "domain": "workspace"},
            "user": {"id": self.user_id, "team_id": self.team_id},
            "api_app_id": "A0HUB0001",
            "token": "deprecated-verification-token",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": "C0SALES01",
                "is_ephemeral": True,
            },
            "trigger_id": f"{self.sent}.123.abc",
            "channel": {"id": "C0SALES01", "name": "sales"},
            "response_url": self.fake.response_url(self.last_key),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "action_ts": "1700000000.1",
                }
            ],
        }
        return post_signed(self.client, urlencode({"payload": json.dumps(payload)}), **kwargs)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _installations_forgotten():
    """Each test finds workspaces afresh: a rolled-back row sends no signal to forget it."""
    slack_installations_forget()
    yield
    slack_installations_forget()


@pytest.fixture(autouse=True)
def slack_settings(settings, fake_slack):
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.SLACK_API_URL = fake_slack.api_url
    settings.SLACK_HTTP_TIMEOUT_SECONDS = 2.0
    settings.EMAIL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    return settings


@pytest.fixture
def acme_install(acme, fake_slack):
    fake_slack.tokens[ACME_TOKEN] = (ACME_TEAM, "Acme Slack", "UBOTACME")
    return slack_installation_register(
        team_id=ACME_TEAM, company=acme, bot_token=ACME_TOKEN, bot_user_id="UBOTACME"
    )


@pytest.fixture
def globex_install(globex, fake_slack):
    fake_slack.tokens[GLOBEX_TOKEN] = (GLOBEX_TEAM, "Globex Slack", "UBOTGLOBEX")
    return slack_installation_register(
        team_id=GLOBEX_TEAM, company=globex, bot_token=GLOBEX_TOKEN, bot_user_id="UBOTGLOBEX"
    )


@pytest.fixture
def alice_number(acme, alice):
    alice.phone = "+14155550999"
    alice.save(update_fields=["phone"])
    return phone_number_add(
        company=acme,
        user=alice,
        phone_number="+14155550100",
        twilio_phone_sid="PN" + "c" * 32,
        is_default=True,
    )


@pytest.fixture
def alice_slack(client, fake_slack, acme_install, alice) -> SlackUser:
    fake_slack.users["UALICE01"] = alice.email.upper()  # Slack's case need not be the hub's
    return SlackUser(client, fake_slack, team_id=ACME_TEAM, user_id="UALICE01")


def _middleware() -> list:
    """The project's broker middleware (config.settings), without Prometheus."""
    return [AgeLimit(), TimeLimit(), Callbacks(), Retries(), DbConnectionsMiddleware()]


SLACK_ACTOR_MODULES = (slack_worker, slack_alerts, slack_crm, slack_events, slack_leads)


def slack_actors() -> list[dramatiq.Actor]:
    """Every actor of the Slack areas (hub/workers/slack*.py)."""
    return [
        value
        for module in SLACK_ACTOR_MODULES
        for value in vars(module).values()
        if isinstance(value, dramatiq.Actor)
    ]


class Worker:
    """The Slack actors on a fresh stub broker, and a real Dramatiq worker to run them."""

    def __init__(self) -> None:
        self.actor = slack_worker.slack_call_place
        self.actors = slack_actors()
        self.originals = [(actor, actor.broker) for actor in self.actors]
        self.broker = StubBroker(middleware=_middleware())
        for actor in self.actors:
            actor.broker = self.broker
            self.broker.declare_actor(actor)

    def queues(self) -> list[str]:
        return sorted({actor.queue_name for actor in self.actors})

    def queued(self, queue: str = slack_worker.QUEUE) -> int:
        return self.broker.queues[queue].qsize()

    @contextmanager
    def running(self) -> Iterator[None]:
        # The in-memory SQLite test database takes one writer at a time and does not wait.
        threads = 2 if connection.vendor == "postgresql" else 1
        worker = dramatiq.Worker(self.broker, worker_threads=threads, worker_timeout=50)
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    def drain(self) -> None:
        """Run every queued job (and those they enqueue) to its end, failing on an error."""
        with self.running():
            for _ in range(5):
                for queue in self.queues():
                    self.broker.join(queue, timeout=30_000, fail_fast=True)
                if not any(self.broker.queues[q].qsize() for q in self.queues()):
                    break

    def close(self) -> None:
        self.broker.close()
        for actor, original in self.originals:
            actor.broker = original


@pytest.fixture(autouse=True)
def worker() -> Iterator[Worker]:
    w = Worker()
    yield w
    w.close()
