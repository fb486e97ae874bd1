""" "Add to Slack": ``/slack/install`` and ``/slack/oauth_redirect`` (multi-workspace OAuth)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def slack_install(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Not built yet.", status=503, content_type="text/plain")


def slack_oauth_redirect(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Not built yet.", status=503, content_type="text/plain")
