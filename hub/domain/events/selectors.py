"""Reads on the event log: replay for a viewer, and how far delivery has settled."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, QuerySet
from django.utils import timezone

from hub.domain.authentication.models import AccountType, CompanyUser, User
from hub.domain.authentication.selectors import memberships_active
from hub.domain.events.audience import Viewer, viewer_events_q
from hub.domain.events.models import Event, RelayCursor
from hub.domain.events.services import triggers_write_events
from hub.domain.events.sql import RELAY_CURSOR


def viewer_memberships(*, user: User) -> tuple[Viewer, list[CompanyUser]]:
    """The viewer, and the active memberships (with their companies) it was made from.

    A superuser that is not a customer account sees every company (``Viewer.every_company``);
    its memberships are still only the ones it has.
    """
    is_customer = user.account_type == AccountType.CUSTOMER
    memberships: list[CompanyUser] = []
    if not is_customer:
        memberships = list(
            memberships_active().filter(user=user).select_related("company").order_by("company_id")
        )
    companies = {m.company_id: m.can_manage_deals for m in memberships}
    viewer = Viewer(
        user_id=user.id,
        is_customer=is_customer,
        companies=companies,
        every_company=user.is_superuser and not is_customer,
    )
    return viewer, memberships


# How many users one revalidation query asks about (bounded IN lists, SQLite's included).
VIEWERS_CHUNK = 500


def viewers_current(user_ids: set[int]) -> dict[int, tuple[bool, Viewer]]:
    """For each user that still exists: (is active, the viewer as it would be built now).

    The rule of :func:`viewer_memberships` (a customer account has no companies; otherwise the
    active memberships of active companies; a superuser sees every company), for many users in
    two queries per ``VIEWERS_CHUNK`` users rather than one per user: the websocket dispatcher
    re-reads its connections' viewers with it.
    """
    result: dict[int, tuple[bool, Viewer]] = {}
    ids = sorted(user_ids)
    for start in range(0, len(ids), VIEWERS_CHUNK):
        chunk = ids[start : start + VIEWERS_CHUNK]
        users = list(
            User.objects.filter(pk__in=chunk).values_list(
                "pk", "is_active", "account_type", "is_superuser"
            )
        )
        staff = [pk for pk, active, kind, _ in users if active and kind != AccountType.CUSTOMER]
        companies: dict[int, dict[int, bool]] = defaultdict(dict)
        if staff:
            memberships = (
                memberships_active()
                .filter(user_id__in=staff)
                .order_by("company_id")
                .values_list("user_id", "company_id", "can_manage_deals")
            )
            for user_id, company_id, manages in memberships:
                companies[user_id][company_id] = manages
        for pk, active, kind, superuser in users:
            is_customer = kind == AccountType.CUSTOMER
            viewer = Viewer(
                user_id=pk,
                is_customer=is_customer,
                companies=dict(companies.get(pk, {})),
                every_company=superuser and not is_customer,
            )
            result[pk] = (active, viewer)
    return result


def viewer_for_user(*, user: User) -> Viewer:
    return viewer_memberships(user=user)[0]


def replay_cutoff() -> datetime:
    return timezone.now() - timedelta(seconds=settings.HUB_REPLAY_WINDOW_SECONDS)


# The row of hub_relay_cursor holding the highest event id retention has deleted.
PRUNED_CURSOR = "pruned"


def event_replay_incomplete(*, viewer: Viewer, after: int, since: datetime | None = None) -> bool:
    """True when something the viewer may see happened after ``after`` but left the window.

    ``since`` is the window's start (``replay_cutoff()``): a resume reading its events in
    several queries passes the same one to each, so none slips out of the window in between.
    """
    # What retention deleted can no longer be asked whom it was for: a client that has not
    # seen up to there refetches, even if nothing deleted was for it (a refetch is always safe).
    if after < event_pruned_upto():
        return True
    return Event.objects.filter(
        viewer_events_q(viewer), id__gt=after, created_at__lt=since or replay_cutoff()
    ).exists()


def event_pruned_upto() -> int:
    """The highest event id retention has deleted (0 when it has deleted none)."""
    mark = (
        RelayCursor.objects.filter(name=PRUNED_CURSOR)
        .values_list("last_event_id", flat=True)
        .first()
    )
    return mark or 0


def _events_in_window(
    viewer: Viewer, after: int, upto: int | None, since: datetime | None
) -> QuerySet[Event]:
    events = Event.objects.filter(
        viewer_events_q(viewer), id__gt=after, created_at__gte=since or replay_cutoff()
    )
    return events if upto is None else events.filter(id__lte=upto)


def event_list_after(
    *,
    viewer: Viewer,
    after: int,
    upto: int | None = None,
    limit: int = 500,
    since: datetime | None = None,
) -> list[Event]:
    return list(_events_in_window(viewer, after, upto, since).order_by("id")[:limit])


def event_count_after(
    *, viewer: Viewer, after: int, upto: int, limit: int, since: datetime | None = None
) -> int:
    """How many events in (after, upto] the viewer may see, counting no further than ``limit``.

    A resume asks whether its replay would exceed the limit: the count stops there rather than
    scanning a backlog of any size.
    """
    return _events_in_window(viewer, after, upto, since)[:limit].count()


def event_settled_id() -> int:
    """The id up to which every event has been fanned out (the relay's watermark).

    Without a relay (no PostgreSQL triggers), events are published at commit and this is
    simply the newest id.
    """
    if triggers_write_events():
        cursor = (
            RelayCursor.objects.filter(name=RELAY_CURSOR)
            .values_list("last_event_id", flat=True)
            .first()
        )
        if cursor is not None:
            return cursor
    return Event.objects.aggregate(newest=Max("id"))["newest"] or 0
