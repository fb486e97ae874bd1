"""Reads on the event log: replay for a viewer, and how far delivery has settled."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from hub.domain.authentication.models import AccountType, CompanyUser, User
from hub.domain.events.audience import Viewer, viewer_events_q
from hub.domain.events.models import Event, RelayCursor

RELAY_CURSOR = "relay"


def viewer_memberships(*, user: User) -> tuple[Viewer, list[CompanyUser]]:
    """The viewer, and the active memberships (with their companies) it was made from."""
    is_customer = user.account_type == AccountType.CUSTOMER
    memberships: list[CompanyUser] = []
    if not is_customer:
        memberships = list(
            CompanyUser.objects.filter(user=user, is_active=True, company__is_active=True)
            .select_related("company")
            .order_by("company_id")
        )
    companies = {m.company_id: m.can_manage_deals for m in memberships}
    return Viewer(user_id=user.id, is_customer=is_customer, companies=companies), memberships


def viewer_for_user(*, user: User) -> Viewer:
    return viewer_memberships(user=user)[0]


def replay_cutoff():
    return timezone.now() - timedelta(seconds=settings.HUB_REPLAY_WINDOW_SECONDS)


def event_replay_incomplete(*, viewer: Viewer, after: int) -> bool:
    """True when something the viewer may see happened after ``after`` but left the window."""
    return Event.objects.filter(
        viewer_events_q(viewer), id__gt=after, created_at__lt=replay_cutoff()
    ).exists()


def event_list_after(
    *, viewer: Viewer, after: int, upto: int | None = None, limit: int = 500
) -> list[Event]:
    events = Event.objects.filter(
        viewer_events_q(viewer), id__gt=after, created_at__gte=replay_cutoff()
    )
    if upto is not None:
        events = events.filter(id__lte=upto)
    return list(events.order_by("id")[:limit])


def event_settled_id() -> int:
    """The id up to which every event has been fanned out (the relay's watermark).

    Without a relay (no PostgreSQL triggers), events are published at commit and this is
    simply the newest id.
    """
    from hub.domain.events.services import triggers_write_events

    if triggers_write_events():
        cursor = (
            RelayCursor.objects.filter(name=RELAY_CURSOR)
            .values_list("last_event_id", flat=True)
            .first()
        )
        if cursor is not None:
            return cursor
    return Event.objects.aggregate(newest=Max("id"))["newest"] or 0
