"""Reads for the live console pages, each scoped to what the signed-in user may see.

The pages show the same rows the websocket would push to the user: calls of the companies
where they are an active member, their own notifications, and the events the audience rules
of ``hub.domain.events.audience`` let them see.
"""

from __future__ import annotations

from django.db.models import QuerySet

from hub.domain.authentication.models import CompanyUser, User
from hub.domain.calls.models import Call
from hub.domain.events.audience import Viewer, viewer_events_q
from hub.domain.events.models import Event
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


def call_board_list(*, viewer: Viewer, limit: int = 100) -> QuerySet[Call]:
    if viewer.is_customer or not viewer.companies:
        return Call.objects.none()
    return (
        Call.objects.filter(company_id__in=list(viewer.companies))
        .select_related("company", "user")
        .order_by("-created_at", "-id")[:limit]
    )


def member_names(*, viewer: Viewer) -> dict[int, str]:
    """Names of the people in the viewer's companies, for rows that arrive live."""
    if viewer.is_customer or not viewer.companies:
        return {}
    members = (
        CompanyUser.objects.filter(company_id__in=list(viewer.companies))
        .select_related("user")
        .order_by("user_id")
    )
    return {m.user_id: m.user.get_full_name() for m in members}


def notification_list(*, user: User, limit: int = 50) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")[:limit]


def notification_unread_ids(*, user: User) -> list[str]:
    ids = Notification.objects.filter(user=user, is_read=False).values_list("id", flat=True)
    return [str(i) for i in ids]


def event_log_tail(*, viewer: Viewer, limit: int = 100) -> list[Event]:
    return list(Event.objects.filter(viewer_events_q(viewer)).order_by("-id")[:limit])
