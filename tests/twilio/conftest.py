"""Twilio webhook fixtures: requests signed like Twilio signs them, and a real Dramatiq worker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count

import dramatiq
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_dramatiq.middleware import DbConnectionsMiddleware
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Retries, TimeLimit
from twilio.request_validator import RequestValidator

from hub.integrations.twilio.drain import doorbell_key
from hub.workers import twilio as actors

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "twilio-test-auth-token"
_sids = count(1)


def call_sid() -> str:
    return f"CA{next(_sids):032x}"


def sign(path: str, params: dict, *, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(f"{settings.HUB_PUBLIC_URL}{path}", params)


def post(client: Client, path: str, params: dict, *, signature: str | None = "sign", **kwargs):
    """POST form params to the hub as Twilio would, signed unless ``signature`` says otherwise."""
    headers = {}
    if signature == "sign":
        signature = sign(path, params)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return client.post(path, params, headers=headers, **kwargs)


def status_params(sid: str, status: str, sequence: int, **extra) -> dict:
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": sid,
        "CallStatus": status,
        "SequenceNumber": str(sequence),
        "Direction": "inbound",
        "From": "+14155550100",
        "To": "+14155559000",
        "ApiVersion": "2010-04-01",
        **extra,
    }


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    return settings


def _middleware() -> list:
    """The project's broker middleware (config.settings), without Prometheus."""
    return [
        AgeLimit(),
        TimeLimit(),
        Callbacks(),
        Retries(),
        DbConnectionsMiddleware(),
    ]


class Brokers:
    """Binds the Twilio actors to a broker of the test's choosing and runs a real worker on it."""

    def __init__(self) -> None:
        self._originals = {a: a.broker for a in self._actors()}
        self.workers: list[dramatiq.Worker] = []
        self.redis_brokers: list[RedisBroker] = []

    @staticmethod
    def _actors():
        return (
            actors.twilio_callback_process,
            actors.twilio_inbox_drain,
            actors.twilio_inbox_sweep,
        )

    def use(self, broker: dramatiq.Broker) -> dramatiq.Broker:
        for actor in self._actors():
            actor.broker = broker
            broker.declare_actor(actor)
        return broker

    def stub(self) -> StubBroker:
        return self.use(StubBroker(middleware=_middleware()))

    def redis(self, url: str | None = None) -> RedisBroker:
        broker = RedisBroker(
            url=url or settings.REDIS_URL,
            namespace=f"hubtest-twilio-{os.getpid()}",
            middleware=_middleware(),
        )
        self.redis_brokers.append(broker)
        return self.use(broker)

    def down(self) -> RedisBroker:
        """A broker whose server does not answer: every enqueue raises."""
        broker = RedisBroker(
            url="redis://127.0.0.1:1/0", socket_connect_timeout=0.5, middleware=_middleware()
        )
        return self.use(broker)

    @contextmanager
    def worker(self, broker: dramatiq.Broker) -> Iterator[dramatiq.Worker]:
        # The in-memory SQLite test database takes one writer at a time and does not wait.
        threads = 4 if connection.vendor == "postgresql" else 1
        worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=50)
        worker.start()
        try:
            yield worker
        finally:
            worker.stop()

    def close(self) -> None:
        for broker in self.redis_brokers:
            broker.flush_all()
            # A drain message flushed with its queue must not hold back the next test's.
            broker.client.delete(doorbell_key(broker))
            broker.close()
        for actor, broker in self._originals.items():
            actor.broker = broker


@pytest.fixture(autouse=True)
def brokers() -> Iterator[Brokers]:
    """Every test gets the actors on a fresh stub broker unless it picks another."""
    b = Brokers()
    b.stub()
    yield b
    b.close()
