"""Fixtures of the domain service tests: the event log seen from a test, and e-mail keys."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from hub.domain.emails import crypto
from hub.domain.events.models import Event
from tests.eventlog import event_log_flush


class EventLog:
    """The hub_event rows appended since the log was created (or last marked)."""

    def __init__(self) -> None:
        self.mark()

    def mark(self) -> None:
        event_log_flush()
        last = Event.objects.order_by("-id").first()
        self.since = last.id if last else 0

    def new(self) -> list[Event]:
        event_log_flush()
        return list(Event.objects.filter(id__gt=self.since).order_by("id"))

    def one(self) -> Event:
        events = self.new()
        assert len(events) == 1, [e.type for e in events]
        return events[0]


@pytest.fixture
def events(db) -> EventLog:
    # On PostgreSQL the database triggers write the events, elsewhere the services do; either
    # way each change must yield exactly one event, so the same assertions hold on both.
    return EventLog()


@pytest.fixture
def email_key(settings) -> str:
    """One fresh Fernet key as the only EMAIL_ENCRYPTION_KEY."""
    key = Fernet.generate_key().decode()
    settings.EMAIL_ENCRYPTION_KEYS = [key]
    crypto._fernet.cache_clear()
    yield key
    crypto._fernet.cache_clear()


@pytest.fixture
def services_publish(db) -> None:
    """Only where services append the events do they also schedule the wake-up on commit.

    On PostgreSQL the trigger's NOTIFY wakes the relay instead; tests/events covers that path.
    """
    if connection.vendor != "sqlite":
        pytest.skip(
            "on PostgreSQL the trigger's NOTIFY, not an on_commit callback, wakes the relay"
        )
