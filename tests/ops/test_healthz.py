"""/healthz: 200 when the database, channel layer and broker answer, else 503 naming the part."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings
from dramatiq.brokers.redis import RedisBroker

from tests.ops.conftest import global_broker

pytestmark = pytest.mark.django_db


def _redis_layer(port: int) -> dict:
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{port}/0"]},
        }
    }


def test_all_up_is_200_with_each_check(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "channel_layer", "broker"}
    for check in body["checks"].values():
        assert check["ok"] is True, check
    assert body["checks"]["database"]["backend"] == connection.vendor


def test_channel_layer_down_is_503_naming_it(client, closed_port):
    with override_settings(CHANNEL_LAYERS=_redis_layer(closed_port)):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["channel_layer"]
    assert body["checks"]["channel_layer"]["ok"] is False
    assert body["checks"]["channel_layer"]["error"]
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]


def test_broker_down_is_503_naming_it(client, closed_port):
    # The Dramatiq broker is built once, from DRAMATIQ_BROKER, when the app loads; point the
    # process's broker at a closed port as a wrong DRAMATIQ_BROKER_URL would.
    with global_broker(RedisBroker(url=f"redis://127.0.0.1:{closed_port}/0")):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert "RedisBroker" not in body["checks"]["broker"].get("backend", "")
    assert body["checks"]["broker"]["error"]


def test_database_down_is_503_naming_it(client, closed_port, monkeypatch):
    # The check runs in a thread of its own, whose connection is made from these settings.
    settings_dict = connection.settings_dict
    if connection.vendor == "postgresql":
        monkeypatch.setitem(settings_dict, "HOST", "127.0.0.1")
        monkeypatch.setitem(settings_dict, "PORT", str(closed_port))
    else:
        monkeypatch.setitem(settings_dict, "NAME", "/nonexistent-directory/hub.sqlite3")

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


def test_two_parts_down_are_both_named(client, closed_port):
    with (
        global_broker(RedisBroker(url=f"redis://127.0.0.1:{closed_port}/0")),
        override_settings(CHANNEL_LAYERS=_redis_layer(closed_port)),
    ):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["channel_layer", "broker"]


@override_settings(SECURE_SSL_REDIRECT=True)
def test_not_redirected_to_https(client):
    # Load balancers probe over plain HTTP.
    assert client.get("/healthz").status_code == 200
