"""Request ids: taken from ``X-Request-ID`` when sane, else made; bound to every log line."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from hub.ops import metrics

_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Any other method is counted as "other": a label value per made-up method would grow forever.
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
log = structlog.get_logger("hub.request")


def _request_id(request) -> str:
    given = request.headers.get("X-Request-ID", "")
    # fullmatch: "$" would let a trailing newline through, into a response header and the logs.
    return given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex


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
        request.request_id = _request_id(request)
        # Bound for this request only: a line logged after it, on the same thread, has no id.
        with structlog.contextvars.bound_contextvars(request_id=request.request_id):
            started = time.perf_counter()
            return self._end(request, self.get_response(request), started)

    async def _acall(self, request):
        request.request_id = _request_id(request)
        with structlog.contextvars.bound_contextvars(request_id=request.request_id):
            started = time.perf_counter()
            return self._end(request, await self.get_response(request), started)

    def _end(self, request, response, started: float):
        elapsed = time.perf_counter() - started
        response["X-Request-ID"] = request.request_id
        method = request.method if request.method in _METHODS else "other"
        metrics.HTTP_REQUESTS.labels(method=method, status=str(response.status_code)).inc()
        metrics.HTTP_LATENCY.observe(elapsed)
        log.info(
            "request",
            method=request.method,
            path=request.path,
            status=response.status_code,
            duration_ms=round(elapsed * 1000, 1),
        )
        return response
