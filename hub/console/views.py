"""Live console pages: rendered from the database, then kept current by hub.js.

Each page renders the event id its rows are current at (``cursor``); hub.js resumes the
websocket from there, so nothing that happens between rendering and connecting is missed.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from hub.console import selectors
from hub.domain.authentication.models import Company, User
from hub.domain.calls.models import CallStatus
from hub.domain.calls.outbound import CallPlacementError, call_request_place
from hub.domain.events.audience import Viewer


@staff_member_required
def call_board(request: HttpRequest) -> HttpResponse:
    viewer = selectors.console_viewer(user=_staff_user(request))
    cursor = selectors.console_cursor()
    context = {
        "page": "calls",
        "cursor": cursor,
        "calls": selectors.call_board_list(viewer=viewer),
        "members": selectors.member_names(viewer=viewer),
        "status_labels": dict(CallStatus.choices),
        "dial_companies": Company.objects.filter(id__in=viewer.companies).order_by("company_name"),
    }
    return render(request, "hub/console/calls.html", context)


@staff_member_required
@require_POST
def call_dial(request: HttpRequest) -> HttpResponse:
    """Click-to-call from the board: Twilio rings the number, the board shows the call live."""
    user = _staff_user(request)
    viewer = selectors.console_viewer(user=user)
    to_number = request.POST.get("to_number", "").strip()
    try:
        company = _dial_company(viewer=viewer, posted=request.POST.get("company"))
        if not to_number:
            raise CallPlacementError("Enter the number to call.")
        call = call_request_place(user=user, company=company, to_number=to_number)
    except CallPlacementError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Calling {call.to_number} from {call.from_number} (call #{call.id})."
        )
    return redirect("console:calls")


def _dial_company(*, viewer: Viewer, posted: str | None) -> Company:
    """Return the company to call from, or raise CallPlacementError saying why there is none.

    A posted company must be one of the viewer's; only when none is posted does the viewer's
    only company stand in, never the first of several.
    """
    if posted is None:
        if not viewer.companies:
            raise CallPlacementError("You are not an active member of any company.")
        if len(viewer.companies) > 1:
            raise CallPlacementError(
                "You are a member of several companies: choose the company to call from."
            )
        [company_id] = viewer.companies
    elif posted.isascii() and posted.isdigit() and int(posted) in viewer.companies:
        company_id = int(posted)
    elif not posted.strip():
        raise CallPlacementError("Choose the company to call from.")
    else:
        raise CallPlacementError(
            "You cannot call from that company: it is not one of your active companies."
        )
    return Company.objects.get(pk=company_id)


@staff_member_required
def notifications(request: HttpRequest) -> HttpResponse:
    user = _staff_user(request)
    cursor = selectors.console_cursor()
    context = {
        "page": "notifications",
        "cursor": cursor,
        "notifications": selectors.notification_list(user=user),
        "unread_ids": selectors.notification_unread_ids(user=user),
    }
    return render(request, "hub/console/notifications.html", context)


@staff_member_required
def event_log(request: HttpRequest) -> HttpResponse:
    viewer = selectors.console_viewer(user=_staff_user(request))
    cursor = selectors.console_cursor()
    context = {
        "page": "events",
        "cursor": cursor,
        "events": [(e, _compact_json(e.payload)) for e in selectors.event_log_tail(viewer=viewer)],
    }
    return render(request, "hub/console/events.html", context)


def _staff_user(request: HttpRequest) -> User:
    """Return the signed-in user of a view behind ``staff_member_required`` (never anonymous)."""
    user = request.user
    assert isinstance(user, User), "the console's views are for signed-in staff only"
    return user


def _compact_json(value: object) -> str:
    # The same text the page shows for events that arrive live (JSON.stringify).
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
