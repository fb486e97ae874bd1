"""``POST /slack/events``: the one request URL of the Slack app (commands, interactivity, events)."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from slack_bolt.adapter.django import SlackRequestHandler

from hub.bots.app import slack_app
from hub.ops.middleware import sessionless


@cache
def _handler(signing_secret: str) -> SlackRequestHandler:
    # The adapter sets up the app's listener runner: one adapter per app.
    return SlackRequestHandler(slack_app(signing_secret))


@sessionless
@csrf_exempt
@require_POST
def slack_events(request: HttpRequest) -> HttpResponse:
    """Verified by Bolt (signature and timestamp: 401 otherwise), then routed to a listener."""
    secret = settings.SLACK_SIGNING_SECRET
    if not secret:
        return HttpResponse(
            "Slack is off: set SLACK_SIGNING_SECRET.", status=503, content_type="text/plain"
        )
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if not (timestamp.isascii() and timestamp.isdigit()):
        # Bolt would fail with a 500 on a timestamp that is not a number.
        return HttpResponse(
            b'{"error": "invalid request"}', status=401, content_type="application/json"
        )
    return _handler(secret).handle(request)
