"""Request ids: taken from ``X-Request-ID`` when sane, else made; bound to every log line."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from hub.ops import metrics

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = structlog.get_logger("hub.request")


def _request_id(request) -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if _VALID_ID.match(given) else uuid.uuid4().hex


class RequestIdMiddleware:
    async_capable = True
    sync_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        started = self._begin(request)
        response = self.get_response(request)
        return self._end(request, response, started)

    async def _acall(self, request):
        started = self._begin(request)
        response = await self.get_response(request)
        return self._end(request, response, started)

    def _begin(self, request) -> float:
        request.request_id = _request_id(request)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request.request_id)
        return time.perf_counter()

    def _end(self, request, response, started: float):
        elapsed = time.perf_counter() - started
        response["X-Request-ID"] = request.request_id
        metrics.HTTP_REQUESTS.labels(method=request.method, status=str(response.status_code)).inc()
        metrics.HTTP_LATENCY.observe(elapsed)
        log.info(
            "request",
            method=request.method,
            path=request.path,
            status=response.status_code,
            duration_ms=round(elapsed * 1000, 1),
        )
        return response
