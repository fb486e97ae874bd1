"""The five Twilio inbox webhooks served straight from ASGI, ahead of Django's request handling.

Measured at 100 callbacks/s (``bench/twilio_callbacks.py``), Django's handling of each request
cost more CPU than the webhook's own work: a new thread per request for the sync receivers of
``request_started``/``request_finished`` (``ThreadSensitiveContext``), a second URL resolve, and
the request and middleware objects. This path answers a ``POST`` to one of the inbox webhooks
with the very functions the Django views use (:func:`views.verified`,
:func:`views.store_and_answer`): the same status, content type and body for the same request
(tests/twilio/test_asgi_path.py compares them). It adds the headers the hub's middleware adds
(``X-Request-ID``; ``SecurityMiddleware``'s nosniff, referrer and opener policies, and HSTS on a
secure request), counts the request in the metrics and logs it. Anything else, including
``/twilio/voice/outbound`` and other methods, goes on to Django.

Deliberately unlike the Django path: a verified callback is never redirected to https
(``SECURE_SSL_REDIRECT``) and its ``Host`` is not checked against ``ALLOWED_HOSTS``: the
signature already binds the callback to ``HUB_PUBLIC_URL``, and Twilio does not follow a
redirect, so the callback would be lost. A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is 413
(Django says 400), and a callback that cannot be stored (database down) 503 (Django: 500).

Storing runs on a small thread pool of its own (``STORE_THREADS``), not a thread made for the
request; each use gives its database connection back (to the pool, with
``DATABASE_POOL_MAX_SIZE``) when done.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import structlog
from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.db import close_old_connections
from django.http import HttpResponse, QueryDict
from django.utils.encoding import escape_uri_path, iri_to_uri

from hub.integrations.twilio import views
from hub.integrations.twilio.models import CallbackKind
from hub.ops import metrics
from hub.ops.middleware import request_id_from

logger = logging.getLogger(__name__)
log = structlog.get_logger("hub.request")

#: Path (below the script prefix) → the inbox kind it stores.
ROUTES: dict[str, str] = {
    "/twilio/voice/status": CallbackKind.STATUS,
    "/twilio/voice/recording": CallbackKind.RECORDING,
    "/twilio/voice/incoming": CallbackKind.INCOMING,
    "/twilio/voice/dialed": CallbackKind.DIALED,
    "/twilio/voice/voicemail": CallbackKind.VOICEMAIL,
}
_FORM = "application/x-www-form-urlencoded"
#: Threads storing callbacks: while the database is slow or down they wait (up to
#: DATABASE_POOL_TIMEOUT each), and nothing else of the process waits with them.
STORE_THREADS = 8
_store_pool: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _store_pool
    if _store_pool is None:
        _store_pool = ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="twilio-webhook")
    return _store_pool


class BodyTooLarge(Exception):
    pass


class TwilioWebhooks:
    """ASGI middleware: Twilio's inbox webhooks here, every other request to ``app``."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        kind = None
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            root = scope.get("root_path", "")
            kind = ROUTES.get(path[len(root) :] if root and path.startswith(root) else path)
        if kind is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        request_id = request_id_from(headers.get("x-request-id", ""))
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                body = await _body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
            except BodyTooLarge:
                response = HttpResponse(
                    "Request body too large.", status=413, content_type="text/plain"
                )
            else:
                if body is None:  # the client went away
                    return
                response = await _answer(kind, scope, headers, body)
            await _send(send, response, request_id, _security_headers(scope, headers))
            elapsed = time.perf_counter() - started
            metrics.HTTP_REQUESTS.labels(method="POST", status=str(response.status_code)).inc()
            metrics.HTTP_LATENCY.observe(elapsed)
            log.info(
                "request",
                method="POST",
                path=scope["path"],
                status=response.status_code,
                duration_ms=round(elapsed * 1000, 1),
            )


async def _body(receive, limit: int | None) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(kind: str, scope, headers: dict[str, str], body: bytes) -> HttpResponse:
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    try:
        # As Django's request.POST: only a form body has parameters.
        post = QueryDict(body if content_type == _FORM else b"", encoding=settings.DEFAULT_CHARSET)
    except TooManyFieldsSent:
        return HttpResponse("Too many fields.", status=400, content_type="text/plain")
    query = scope.get("query_string", b"").decode("latin-1")
    full_path = escape_uri_path(scope["path"]) + (f"?{iri_to_uri(query)}" if query else "")
    checked = views.verified(
        kind,
        full_path=full_path,
        post=post,
        signature=headers.get("x-twilio-signature", ""),
        signature_settings=headers.get("x-twilio-signature-settings"),
    )
    if isinstance(checked, HttpResponse):
        return checked
    # The context goes along, so lines logged while storing keep the request id.
    run = functools.partial(contextvars.copy_context().run, _store_and_answer, kind, checked)
    return await asyncio.get_running_loop().run_in_executor(_pool(), run)


def _store_and_answer(kind: str, checked: views.Verified) -> HttpResponse:
    try:
        return views.store_and_answer(kind, checked)
    except Exception:
        logger.exception("twilio %s callback could not be stored", kind)
        return HttpResponse(
            "The callback could not be stored; try again.", status=503, content_type="text/plain"
        )
    finally:
        # Off Django's request cycle nothing else gives the connection back.
        try:
            close_old_connections()
        except Exception:
            logger.exception("twilio webhook: closing the database connection failed")


def _is_secure(scope, headers: dict[str, str]) -> bool:
    """As ``HttpRequest.is_secure``: the proxy's header when SECURE_PROXY_SSL_HEADER names one."""
    if settings.SECURE_PROXY_SSL_HEADER:
        name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        given = headers.get(name.removeprefix("HTTP_").replace("_", "-").lower())
        if given is not None:
            return given.split(",", 1)[0].strip() == secure_value
    return scope.get("scheme") == "https"


def _security_headers(scope, headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """What ``SecurityMiddleware`` adds to a response, from the same settings."""
    added = []
    if settings.SECURE_HSTS_SECONDS and _is_secure(scope, headers):
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            hsts += "; preload"
        added.append((b"strict-transport-security", hsts.encode()))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        added.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        if not isinstance(policy, str):
            policy = ",".join(policy)
        added.append((b"referrer-policy", policy.encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        added.append(
            (b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode())
        )
    return added


async def _send(send, response: HttpResponse, request_id: str, extra) -> None:
    body = response.content
    response_headers: list[tuple[bytes, bytes]] = [
        (b"content-type", response["Content-Type"].encode("latin-1")),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        *extra,
    ]
    await send(
        {"type": "http.response.start", "status": response.status_code, "headers": response_headers}
    )
    await send({"type": "http.response.body", "body": body})
