"""Reads for the live console pages, each scoped to what the signed-in user may see.

The pages show the same rows the websocket would push to the user: calls of the companies
the page shows (``hub.console.companies.CompanyScope``: every company for a superuser, else
the user's active memberships), and their own notifications.
"""

from __future__ import annotations

from django.db.models import QuerySet

from hub.domain.authentication.models import CompanyUser, User
from hub.domain.calls.models import Call
from hub.domain.events.audience import Viewer
from hub.domain.events.selectors import event_settled_id, viewer_for_user
from hub.domain.notifications.models import Notification


def console_viewer(*, user: User) -> Viewer:
    return viewer_for_user(user=user)


def console_cursor() -> int:
    """Return the event id the rows read after this call are at least as new as.

    Read it before the rows: a page resumes the websocket from here, so an event committed
    between the read and the connection is replayed rather than lost.
    """
    return event_settled_id()


def call_board_list(*, company_ids: list[int], limit: int = 100) -> QuerySet[Call]:
    """The newest calls of the companies the board shows (``CompanyScope.company_ids``)."""
    if not company_ids:
        return Call.objects.none()
    return (
        Call.objects.filter(company_id__in=company_ids)
        .select_related("company", "user")
        .order_by("-created_at", "-id")[:limit]
    )


def member_names(*, company_ids: list[int]) -> dict[int, str]:
    """Names of the people in the companies the board shows, for rows that arrive live."""
    if not company_ids:
        return {}
    members = (
        CompanyUser.objects.filter(company_id__in=company_ids)
        .select_related("user")
        .order_by("user_id")
    )
    return {m.user_id: m.user.get_full_name() for m in members}


def notification_list(*, user: User, limit: int = 50) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")[:limit]


def notification_unread_ids(*, user: User) -> list[str]:
    """The ids of the user's unread notifications (one query), newest first."""
    ids = (
        Notification.objects.filter(user=user, is_read=False)
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
    )
    return [str(i) for i in ids]
