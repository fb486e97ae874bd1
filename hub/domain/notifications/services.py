"""Writes on notifications; each one is pushed to its user's browsers."""

from __future__ import annotations

from uuid import UUID

from django.db import transaction

from hub.domain.authentication.models import User
from hub.domain.events.models import Audience
from hub.domain.events.payloads import notification_payload
from hub.domain.events.services import event_record
from hub.domain.notifications.models import Notification, NotificationType

TOPIC = "notifications"


def _record(notification: Notification, type_: str) -> None:
    event_record(
        company_id=None,
        audience=Audience.USER,
        user_id=notification.user_id,
        topic=TOPIC,
        type=type_,
        payload=notification_payload(notification),
    )


@transaction.atomic
def notification_create(
    *,
    user: User,
    title: str,
    message: str,
    type: str = NotificationType.INFO,
    related_object_type: str | None = None,
    related_object_id: UUID | None = None,
) -> Notification:
    notification = Notification(
        user=user,
        title=title[:255],
        message=message,
        type=type,
        related_object_type=related_object_type,
        related_object_id=related_object_id,
    )
    notification.full_clean()
    notification.save()
    _record(notification, "notification.created")
    return notification


@transaction.atomic
def notification_mark_read(*, user: User, notification_id: UUID | str) -> Notification | None:
    """Mark one of the user's notifications read; None when it is not theirs or not found."""
    notification = (
        Notification.objects.select_for_update().filter(user=user, id=notification_id).first()
    )
    if notification is None or notification.is_read:
        return notification
    notification.is_read = True
    notification.save(update_fields=["is_read"])
    _record(notification, "notification.read")
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user: User) -> int:
    unread = list(
        Notification.objects.select_for_update()
        .filter(user=user, is_read=False)
        .order_by("created_at")
    )
    for notification in unread:
        notification.is_read = True
        notification.save(update_fields=["is_read"])
        _record(notification, "notification.read")
    return len(unread)
