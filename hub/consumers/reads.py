"""The websocket consumer's database work: each a small function run on a worker thread."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError

from hub.consumers import protocol
from hub.consumers.fanout import event_wire
from hub.domain.authentication.models import User
from hub.domain.events.audience import Viewer
from hub.domain.events.selectors import (
    event_count_after,
    event_list_after,
    event_replay_incomplete,
    event_settled_id,
    viewer_memberships,
)
from hub.domain.notifications.services import notification_mark_read, notifications_mark_all_read


def _db(func):
    # Reads for one connection at a time need no shared thread: run them on any worker thread.
    return database_sync_to_async(func, thread_sensitive=False)


@_db
def user_by_id(user_id: int):
    return User.objects.filter(pk=user_id).first()


@_db
def viewer_and_hello(user) -> tuple[Viewer, dict[str, Any]]:
    viewer, memberships = viewer_memberships(user=user)
    companies = [
        {
            "id": m.company_id,
            "name": m.company.company_name,
            "role": m.role,
            "can_manage_deals": m.can_manage_deals,
        }
        for m in memberships
    ]
    hello = {
        "user": {
            "id": user.id,
            "email": user.email,
            "name": user.get_full_name(),
            "account_type": user.account_type,
        },
        "company": companies[0] if companies else None,
        "companies": companies,
        "every_company": viewer.every_company,
    }
    return viewer, hello


@_db
def replay_refusal(viewer: Viewer, after: int, upto: int, since: datetime) -> str | None:
    """Why a resume after ``after`` must be answered ``reset`` (a reason), or None to replay."""
    # Beyond this process's own cursor the dispatcher may merely lag another process's (the
    # client saw that id there): only beyond what the log has settled is the id unknown here,
    # e.g. after the database was restored from a backup.
    if after > upto and after > event_settled_id():
        return protocol.RESET_AHEAD_OF_SERVER
    if event_replay_incomplete(viewer=viewer, after=after, since=since):
        return protocol.RESET_BEYOND_REPLAY_WINDOW
    most = settings.HUB_RESUME_MAX_EVENTS
    if event_count_after(viewer=viewer, after=after, upto=upto, since=since, limit=most + 1) > most:
        return protocol.RESET_TOO_MANY_EVENTS
    return None


@_db
def replay_page(viewer: Viewer, after: int, upto: int, since: datetime) -> list[tuple[int, str]]:
    """The next page of a replay: (id, encoded event frame), in id order."""
    events = event_list_after(
        viewer=viewer, after=after, upto=upto, since=since, limit=protocol.REPLAY_PAGE_SIZE
    )
    return [(e.id, protocol.event_frame_text(event_wire(e))) for e in events]


@database_sync_to_async
def mark_read(user, notification_id: str | None, everything: bool) -> int | None:
    if everything:
        return notifications_mark_all_read(user=user)
    assert notification_id is not None, "the frame gives an id when it does not say all"
    try:
        notification = notification_mark_read(user=user, notification_id=notification_id)
    except (ValidationError, ValueError):
        return None
    return None if notification is None else 1
