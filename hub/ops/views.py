"""Operational endpoints: ``/healthz`` (dependencies reachable) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio
import inspect
import time
from functools import cache
from pathlib import Path

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.ops import health, metrics
from hub.ops.logging import redact_text
from hub.ops.middleware import sessionless

CHECK_TIMEOUT_SECONDS = 3.0


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


async def _check_channel_layer() -> str:
    layer = get_channel_layer()
    channel = await layer.new_channel("healthz")
    await layer.send(channel, {"type": "healthz.ping"})
    await layer.receive(channel)
    return type(layer).__name__


def _check_broker() -> str:
    import dramatiq

    broker = dramatiq.get_broker()
    name = type(broker).__name__
    # By name, so that the broker not in use need not be importable (pika, redis).
    if name == "RedisBroker":
        from dramatiq.brokers.redis import RedisBroker

        assert isinstance(broker, RedisBroker)
        broker.client.ping()
    elif name == "RabbitmqBroker":
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        assert isinstance(broker, RabbitmqBroker)
        broker.connection  # noqa: B018 - opening the connection is the check
    return name


async def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        if inspect.iscoroutinefunction(check):
            backend = await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        else:
            backend = await asyncio.wait_for(
                sync_to_async(check, thread_sensitive=False)(), CHECK_TIMEOUT_SECONDS
            )
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"}
    except Exception as exc:  # any failure means "not reachable"
        # The answer is public: a URL's password in an error message must not reach it.
        return {"ok": False, "error": redact_text(f"{type(exc).__name__}: {exc}")[:300]}
    return {"ok": True, "backend": backend, "ms": round((time.perf_counter() - started) * 1000, 1)}


async def healthz(request: HttpRequest) -> JsonResponse:
    database, layer, broker = await asyncio.gather(
        _timed(_check_database_closing), _timed(_check_channel_layer), _timed(_check_broker)
    )
    checks = {"database": database, "channel_layer": layer, "broker": broker}
    failing = [name for name, check in checks.items() if not check["ok"]]
    if failing:
        body = {"status": "unavailable", "failing": failing, "checks": checks}
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ok", "checks": checks})


def _check_database_closing() -> str:
    try:
        return _check_database()
    finally:
        connection.close()


# The operations figures (queues, relay, Twilio inbox, clients), read when /metrics is asked.
metrics.ops_collector_register(health)


def metrics_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


_FAVICON = Path(__file__).resolve().parent.parent / "console" / "static" / "hub" / "favicon.ico"


@cache
def _favicon() -> bytes:
    return _FAVICON.read_bytes()


@sessionless
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which every browser asks for: the hub's icon, cached for a day."""
    response = HttpResponse(_favicon(), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response
