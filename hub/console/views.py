"""Live console pages: rendered from the database, then kept current by hub.js.

Each page renders the event id its rows are current at (``cursor``); hub.js resumes the
websocket from there, so nothing that happens between rendering and connecting is missed.
"""

from __future__ import annotations

import json

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hub.console import selectors
from hub.domain.calls.models import CallStatus


@staff_member_required
def call_board(request: HttpRequest) -> HttpResponse:
    viewer = selectors.console_viewer(user=request.user)
    cursor = selectors.console_cursor()
    context = {
        "page": "calls",
        "cursor": cursor,
        "calls": selectors.call_board_list(viewer=viewer),
        "members": selectors.member_names(viewer=viewer),
        "status_labels": dict(CallStatus.choices),
    }
    return render(request, "hub/console/calls.html", context)


@staff_member_required
def notifications(request: HttpRequest) -> HttpResponse:
    cursor = selectors.console_cursor()
    context = {
        "page": "notifications",
        "cursor": cursor,
        "notifications": selectors.notification_list(user=request.user),
        "unread_ids": selectors.notification_unread_ids(user=request.user),
    }
    return render(request, "hub/console/notifications.html", context)


@staff_member_required
def event_log(request: HttpRequest) -> HttpResponse:
    viewer = selectors.console_viewer(user=request.user)
    cursor = selectors.console_cursor()
    context = {
        "page": "events",
        "cursor": cursor,
        "events": [(e, _compact_json(e.payload)) for e in selectors.event_log_tail(viewer=viewer)],
    }
    return render(request, "hub/console/events.html", context)


def _compact_json(value: object) -> str:
    # The same text the page shows for events that arrive live (JSON.stringify).
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
