"""Reads for the console's event log: a page of the log a viewer may see, and the names it needs.

The page shows what the audience rule (:func:`viewer_events_q`) lets the viewer see, narrowed to
the companies the page shows. Events of no company (notifications) and the viewer's own ``user``
events are shown when no single company is chosen. Names of the people and stages the events
mention are read in bulk, one query per kind for the whole page, never per line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q

from hub.domain.authentication.models import User
from hub.domain.crm.models import DealStage
from hub.domain.events.audience import Viewer, viewer_events_q
from hub.domain.events.models import Audience, Event

# The event types by topic, as docs/PROTOCOL.md lists them: the type filter offers these.
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "calls": ("call.created", "call.updated"),
    "deals": ("deal.created", "deal.updated", "deal.deleted"),
    "leads": ("lead.created", "lead.updated"),
    "notifications": (
        "notification.created",
        "notification.read",
        "notification.unread",
        "notification.deleted",
    ),
    "emails": ("email.created", "email.opened", "email.clicked"),
}

# Lines per page of the log (and per answer to a live page asking what is new).
PAGE_SIZE = 100


@dataclass(frozen=True)
class LogFilter:
    """Which events a page of the log shows, beyond what the viewer may see at all."""

    company_ids: list[int]
    # True when no single company is chosen: the viewer's own events of no company show too.
    own_events: bool = True
    topic: str | None = None
    type: str | None = None


@dataclass
class LogNames:
    """Names the lines of one page mention, by id."""

    users: dict[int, str] = field(default_factory=dict)
    stages: dict[int, str] = field(default_factory=dict)


def event_type_known(value: str) -> bool:
    return value in EVENT_TYPES or any(value in types for types in EVENT_TYPES.values())


def _log_q(viewer: Viewer, log_filter: LogFilter) -> Q:
    shown = Q(company_id__in=log_filter.company_ids)
    if log_filter.own_events:
        shown |= Q(audience=Audience.USER, user_id=viewer.user_id)
    q = viewer_events_q(viewer) & shown
    if log_filter.topic:
        q &= Q(topic=log_filter.topic)
    if log_filter.type:
        q &= Q(type=log_filter.type)
    return q


def event_log_page(
    *,
    viewer: Viewer,
    log_filter: LogFilter,
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> list[Event]:
    """A page of the log the viewer may see.

    Newest first, below ``before`` when given; with ``after``, the oldest ``limit`` events
    after it, oldest first (what a live page asks for when it hears of new events).
    """
    events = Event.objects.filter(_log_q(viewer, log_filter))
    if after is not None:
        return list(events.filter(id__gt=after).order_by("id")[:limit])
    if before is not None:
        events = events.filter(id__lt=before)
    return list(events.order_by("-id")[:limit])


def _ids(values: Iterable[object]) -> set[int]:
    return {v for v in values if isinstance(v, int) and not isinstance(v, bool)}


def event_log_names(events: list[Event]) -> LogNames:
    """The names of the users and deal stages that ``events`` mention: two queries at most."""
    user_ids: set[int] = set()
    stage_ids: set[int] = set()
    for event in events:
        data = event.payload if isinstance(event.payload, dict) else {}
        user_ids |= _ids([event.user_id, data.get("user_id"), data.get("assigned_to_id")])
        stage_ids |= _ids([data.get("stage_id")])
    names = LogNames()
    if user_ids:
        users = User.objects.filter(pk__in=user_ids).only("first_name", "last_name", "email")
        names.users = {u.pk: u.get_full_name() for u in users}
    if stage_ids:
        stages = DealStage.objects.filter(pk__in=stage_ids).order_by().values_list("pk", "name")
        names.stages = dict(stages)
    return names
