from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError

from hub.domain.events import payloads
from hub.domain.notifications.models import Notification
from hub.domain.notifications.services import (
    notification_create,
    notification_mark_read,
    notifications_mark_all_read,
)


def _notify(user, title: str = "Deal won", **fields) -> Notification:
    return notification_create(user=user, title=title, message="Anvils sold", **fields)


def test_notification_create(alice):
    related = uuid.uuid4()

    note = _notify(alice, type="success", related_object_type="deal", related_object_id=related)

    note.refresh_from_db()
    assert (note.user, note.title, note.type, note.is_read) == (alice, "Deal won", "success", False)
    assert (note.related_object_type, note.related_object_id) == ("deal", related)


def test_a_long_title_is_cut_to_the_column(alice):
    note = _notify(alice, title="x" * 300)

    assert len(note.title) == 255


def test_an_unknown_type_is_refused(alice):
    with pytest.raises(ValidationError):
        _notify(alice, type="shout")

    assert not Notification.objects.exists()


def test_mark_read(alice):
    note = _notify(alice)

    result = notification_mark_read(user=alice, notification_id=note.id)

    note.refresh_from_db()
    assert result == note
    assert note.is_read


def test_mark_read_takes_the_id_as_text(alice):
    note = _notify(alice)

    assert notification_mark_read(user=alice, notification_id=str(note.id)).is_read


def test_an_outsider_cannot_mark_someone_elses_notification_read(alice, charlie):
    note = _notify(alice)

    assert notification_mark_read(user=charlie, notification_id=note.id) is None

    note.refresh_from_db()
    assert not note.is_read


def test_a_team_mate_cannot_mark_it_read_either(alice, bob):
    note = _notify(alice)

    assert notification_mark_read(user=bob, notification_id=note.id) is None

    note.refresh_from_db()
    assert not note.is_read


def test_an_unknown_id_gives_none(alice):
    assert notification_mark_read(user=alice, notification_id=uuid.uuid4()) is None


def test_mark_all_read_marks_only_the_users_unread_ones(alice, charlie):
    notes = [_notify(alice, title=f"n{i}") for i in range(3)]
    notification_mark_read(user=alice, notification_id=notes[0].id)
    theirs = _notify(charlie)

    assert notifications_mark_all_read(user=alice) == 2

    assert not Notification.objects.filter(user=alice, is_read=False).exists()
    theirs.refresh_from_db()
    assert not theirs.is_read
    assert notifications_mark_all_read(user=alice) == 0


def test_mark_all_read_by_an_outsider_leaves_others_alone(alice, charlie):
    _notify(alice)

    assert notifications_mark_all_read(user=charlie) == 0

    assert Notification.objects.filter(user=alice, is_read=False).count() == 1


# --- events ---------------------------------------------------------------------------------


def test_create_appends_notification_created_for_the_user_only(alice, events):
    note = _notify(alice)

    event = events.one()
    assert (event.type, event.topic, event.audience) == (
        "notification.created",
        "notifications",
        "user",
    )
    assert (event.user_id, event.company_id) == (alice.id, None)
    note.refresh_from_db()
    assert event.payload == payloads.notification_payload(note)


def test_mark_read_appends_notification_read_once(alice, events):
    note = _notify(alice)
    events.mark()

    notification_mark_read(user=alice, notification_id=note.id)
    notification_mark_read(user=alice, notification_id=note.id)  # already read: no event

    event = events.one()
    assert (event.type, event.audience, event.user_id) == ("notification.read", "user", alice.id)
    assert event.payload["id"] == str(note.id)
    assert event.payload["is_read"] is True


def test_an_outsiders_mark_read_appends_nothing(alice, charlie, events):
    note = _notify(alice)
    events.mark()

    notification_mark_read(user=charlie, notification_id=note.id)

    assert events.new() == []


def test_mark_all_read_appends_one_event_per_notification(alice, events):
    notes = [_notify(alice, title=f"n{i}") for i in range(3)]
    events.mark()

    notifications_mark_all_read(user=alice)

    read = events.new()
    assert [e.type for e in read] == ["notification.read"] * 3
    assert {e.payload["id"] for e in read} == {str(n.id) for n in notes}
    assert {e.user_id for e in read} == {alice.id}


def test_the_push_waits_for_the_commit(
    alice, events, services_publish, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        _notify(alice)

    assert len(callbacks) == 1


def test_a_refused_notification_appends_nothing(alice, events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ValidationError):
        _notify(alice, type="shout")

    assert callbacks == []
    assert events.new() == []
