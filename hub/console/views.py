"""Live console pages: rendered from the database, then kept current by hub.js.

Each page renders the event id its rows are current at (``cursor``); hub.js resumes the
websocket from there, so nothing that happens between rendering and connecting is missed.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from hub.console import selectors
from hub.console.companies import COMPANY_PARAM, company_scope
from hub.domain.authentication.models import Company, User
from hub.domain.calls.models import CallStatus
from hub.domain.calls.outbound import CallPlacementError, call_request_place
from hub.domain.events.audience import Viewer


@staff_member_required
def call_board(request: HttpRequest) -> HttpResponse:
    """The newest calls of every company the user sees, kept live; ``?company=`` picks one."""
    viewer = selectors.console_viewer(user=staff_user(request))
    scope = company_scope(request, viewer=viewer)
    cursor = selectors.console_cursor()
    shown = scope.company_ids
    context = {
        "page": "calls",
        "cursor": cursor,
        "scope": scope,
        "calls": selectors.call_board_list(company_ids=shown),
        "members": selectors.member_names(company_ids=shown),
        "status_labels": dict(CallStatus.choices),
        # What the page needs to name (and filter) the company of a call that arrives live.
        "board": {
            "several": scope.several,
            "chosen": scope.chosen.id if scope.chosen else None,
            "companies": {c.id: c.company_name for c in scope.companies},
        },
        # Calls are placed only from a company the user is an active member of (a superuser
        # sees every company but places calls from their own only).
        "dial_companies": [c for c in scope.companies if c.id in viewer.companies],
    }
    return render(request, "hub/console/calls.html", context)


@staff_member_required
@require_POST
def call_dial(request: HttpRequest) -> HttpResponse:
    """Click-to-call from the board: Twilio rings the number, the board shows the call live."""
    user = staff_user(request)
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
    return redirect(_board_url(request.POST.get("board_company", "")))


def _board_url(company: str) -> str:
    """The call board, with the company filter the form was posted from (digits only)."""
    url = reverse("console:calls")
    if company.isascii() and company.isdigit():
        return f"{url}?{urlencode({COMPANY_PARAM: company})}"
    return url


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
    """The user's own notifications (a notification belongs to a user, never to a company)."""
    user = staff_user(request)
    cursor = selectors.console_cursor()
    context = {
        "page": "notifications",
        "cursor": cursor,
        "notifications": selectors.notification_list(user=user),
        "notification_unread_ids": selectors.notification_unread_ids(user=user),
    }
    return render(request, "hub/console/notifications.html", context)


def staff_user(request: HttpRequest) -> User:
    """Return the signed-in user of a console view behind ``staff_member_required`` or
    ``login_required`` (never anonymous): every console page reads its user with this."""
    user = request.user
    assert isinstance(user, User), "the console's views are for signed-in staff only"
    return user
