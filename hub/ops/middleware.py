"""Request ids: taken from ``X-Request-ID`` when sane, else made; bound to every log line.

And the async-capable middleware that keeps a webhook from hopping between threads.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.middleware.security import SecurityMiddleware
from django.urls import Resolver404, get_resolver
from whitenoise.middleware import WhiteNoiseMiddleware

from hub.ops import metrics

_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Any other method is counted as "other": a label value per made-up method would grow forever.
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
log = structlog.get_logger("hub.request")


def valid_request_id(given: str) -> str | None:
    """``given`` if it is a sane request id (letters, digits, ``._-``, up to 64), else None."""
    # fullmatch: "$" would let a trailing newline through, into a response header and the logs.
    return given if _VALID_ID.fullmatch(given) else None


def request_id_from(given: str) -> str:
    """The request id to use for a request whose ``X-Request-ID`` was ``given``: it, when sane,
    else a new one. For HTTP requests, the Twilio ASGI path and websocket connections alike."""
    return valid_request_id(given) or uuid.uuid4().hex


def _request_id(request) -> str:
    return request_id_from(request.headers.get("X-Request-ID", ""))


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


def sessionless(view):
    """Mark a view that needs no session, CSRF, auth, messages or framing middleware.

    Such a view authenticates each request itself (a webhook checks its sender's signature)
    and sets no cookie; :class:`SessionlessViewMiddleware` calls it straight away.
    """
    view.sessionless = True
    return view


class SessionlessViewMiddleware:
    """Send a request for a :func:`sessionless` view straight to it, past the middleware below.

    Each of Django's sync-style middleware below costs two thread hops per request when served
    async; a webhook needs none of them but ``SecurityMiddleware``, whose two halves (they only
    read settings and headers) run here inline. Sits right above ``SecurityMiddleware``.
    """

    async_capable = True
    sync_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.security = SecurityMiddleware(get_response)
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        match = _sessionless_match(request)
        if match is None:
            return self.get_response(request)
        response = self.security.process_request(request)
        if response is None:
            view = async_to_sync(match.func) if iscoroutinefunction(match.func) else match.func
            response = view(request, *match.args, **match.kwargs)
        return self._end(request, response)

    async def _acall(self, request):
        match = _sessionless_match(request)
        if match is None:
            return await self.get_response(request)
        response = self.security.process_request(request)
        if response is None and iscoroutinefunction(match.func):
            response = await match.func(request, *match.args, **match.kwargs)
        elif response is None:
            response = await sync_to_async(match.func)(request, *match.args, **match.kwargs)
        return self._end(request, response)

    def _end(self, request, response):
        # What CommonMiddleware would have added.
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return self.security.process_response(request, response)


def _sessionless_match(request):
    try:
        match = get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
    except Resolver404:
        return None
    if not getattr(match.func, "sessionless", False):
        return None
    request.resolver_match = match
    return match


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, async-capable: a request for anything but a static file goes straight on.

    WhiteNoise itself is sync-only, and one sync-only middleware in the chain makes every
    request hop from the event loop to a thread and back.
    """

    async_capable = True
    sync_capable = True

    def __init__(self, get_response):
        super().__init__(get_response)
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request):
        if not request.path_info.startswith(self.static_prefix):
            return await self.get_response(request)
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is None:
            return await self.get_response(request)
        return await sync_to_async(self.serve)(static_file, request)
