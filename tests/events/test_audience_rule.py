"""Live routing and replay apply one audience rule.

``viewer_events_q`` is the rule, as a filter on hub_event (replay, the console's event log);
``Dispatcher.recipients`` mirrors it in memory for live routing. For every viewer and every
event of a small universe (three companies, three users, superusers among them, each audience,
with and without a company or user), the connections the dispatcher routes an event to are exactly the viewers
whose filter selects its row.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from hub.consumers.dispatcher import Dispatcher
from hub.consumers.fanout import event_wire
from hub.domain.events.audience import Viewer, viewer_events_q
from hub.domain.events.models import Audience, Event

pytestmark = pytest.mark.django_db

COMPANIES = (1, 2, 3)
USERS = (10, 11, 12)


@dataclass(eq=False)
class FakeConnection:
    """The attributes ``Dispatcher.register`` and ``recipients`` read of a connection."""

    viewer: Viewer
    expires_at: float | None = None


def every_viewer() -> list[Viewer]:
    # Per company: not a member, a member, a member who manages deals.
    standings = (None, False, True)
    viewers = []
    for user_id, is_customer in itertools.product(USERS, (False, True)):
        for standing in itertools.product(standings, repeat=len(COMPANIES)):
            companies = {
                company_id: manages
                for company_id, manages in zip(COMPANIES, standing, strict=True)
                if manages is not None
            }
            viewers.append(Viewer(user_id=user_id, is_customer=is_customer, companies=companies))
        if not is_customer:
            # A superuser, with and without memberships of its own.
            for companies in ({}, {1: False}, {2: True}):
                viewers.append(
                    Viewer(
                        user_id=user_id, is_customer=False, companies=companies, every_company=True
                    )
                )
    return viewers


def every_event() -> list[Event]:
    return Event.objects.bulk_create(
        Event(audience=audience, company_id=company_id, user_id=user_id, topic="t", type="t.x")
        for audience in Audience.values
        for company_id in (None, *COMPANIES)
        for user_id in (None, *USERS)
    )


def test_routing_and_replay_agree_for_every_viewer_and_event():
    events = every_event()
    viewers = every_viewer()
    dispatcher = Dispatcher()
    connections = [FakeConnection(viewer) for viewer in viewers]
    for conn in connections:
        dispatcher.register(conn, conn.viewer)

    routed: dict[int, set[int]] = {id(conn): set() for conn in connections}
    for event in events:
        for conn in dispatcher.recipients(event_wire(event)):
            routed[id(conn)].add(event.id)
    for conn in connections:
        dispatcher.unregister(conn)

    ids = [event.id for event in events]
    mismatches = []
    for conn in connections:
        replayed = set(
            Event.objects.filter(viewer_events_q(conn.viewer), id__in=ids).values_list(
                "id", flat=True
            )
        )
        if replayed != routed[id(conn)]:
            mismatches.append((conn.viewer, sorted(replayed ^ routed[id(conn)])))

    assert not mismatches, mismatches[:5]
    # The universe exercises the rule: someone sees each audience, and nobody sees everything.
    assert len(viewers) == 162 + 9 and len(events) == 48
    seen = set().union(*routed.values())
    assert {e.audience for e in events if e.id in seen} == set(Audience.values)
    assert all(len(ids_) < len(events) for ids_ in routed.values())
