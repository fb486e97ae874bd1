"""Views the logging tests send real requests to: each logs or fails as careless code might."""

from __future__ import annotations

import logging

import structlog
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.urls import include, path

log = structlog.get_logger("tests.ops")
stdlib_log = logging.getLogger("tests.ops")


def webhook_logging_its_input(request):
    log.info(
        "webhook received",
        headers=request.headers,
        meta=request.META,
        query=request.GET,
        form=request.POST,
        scope_headers=request.scope["headers"] if hasattr(request, "scope") else None,
    )
    stdlib_log.info("webhook headers %s", dict(request.headers))
    stdlib_log.info("webhook form %s", request.POST.urlencode())
    return HttpResponse("ok")


def failing_with_the_header_in_the_message(request):
    raise RuntimeError(f"could not verify {request.headers.get('Authorization')}")


def refusing(request):
    raise PermissionDenied("members only")


urlpatterns = [
    path("ops-test/forbidden", refusing),
    path("ops-test/webhook", webhook_logging_its_input),
    path("ops-test/fail", failing_with_the_header_in_the_message),
    path("", include("config.urls")),
]
