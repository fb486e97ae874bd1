"""The whole path with real websocket clients: triggers → relay → Redis → two daphne processes."""

from __future__ import annotations

import random
from collections import defaultdict

import psycopg
import pytest
from websockets.exceptions import ConnectionClosed

from hub.domain.authentication.services import company_user_add
from hub.domain.calls.services import call_create
from hub.domain.crm.services import deal_assign, deal_create, deal_move, lead_assign, lead_create
from hub.domain.emails.services import email_store
from hub.domain.notifications.services import notification_create
from tests import factories
from tests.eventlog import event_log_settled
from tests.live.conftest import Client, client, database_url
from tests.realtime.helpers import access_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]


def sql(statement: str, params: list) -> None:
    with psycopg.connect(database_url(), autocommit=True) as conn:
        conn.execute(statement, params)


def sql_notification(user_id: int, title: str) -> None:
    sql(
        "INSERT INTO notifications_notification (id, user_id, title, message, type, is_read, created_at) "
        "VALUES (gen_random_uuid(), %s, %s, 'from psql', 'info', false, now())",
        [user_id, title],
    )


def test_notification_inserted_with_plain_sql_reaches_its_user_and_nobody_else(live_hub):
    alice, eve = factories.UserFactory(), factories.UserFactory()
    with client(live_hub.url(0), alice.id) as a, client(live_hub.url(1), eve.id) as e:
        sql_notification(alice.id, "for alice")
        sql_notification(eve.id, "for eve")
        assert a.next_event()["data"]["title"] == "for alice"
        # Eve's first event is her own: alice's, committed earlier, never reached her.
        assert e.next_event()["data"]["title"] == "for eve"
        sql_notification(alice.id, "again for alice")
        assert a.next_event()["data"]["title"] == "again for alice"


def test_disconnected_client_gets_exactly_the_three_events_it_missed(live_hub):
    alice = factories.UserFactory()
    with client(live_hub.url(0), alice.id) as c:
        sql_notification(alice.id, "seen")
        last_seen = c.next_event()["id"]
    for n in range(3):
        sql_notification(alice.id, f"missed {n}")
    with client(live_hub.url(1), alice.id) as c:
        c.send({"type": "resume", "after": last_seen})
        frames = [c.recv() for _ in range(4)]
        assert [f["data"]["title"] for f in frames[:3]] == ["missed 0", "missed 1", "missed 2"]
        assert frames[3] == {
            "type": "resumed",
            "after": last_seen,
            "replayed": 3,
            "recovered": True,
            "latest_event_id": frames[3]["latest_event_id"],
        }
        sql_notification(alice.id, "live again")
        assert c.next_event()["data"]["title"] == "live again"  # no duplicate in between


def test_one_event_reaches_clients_on_both_processes(live_hub, acme, alice, bob):
    with client(live_hub.url(0), alice.id) as a, client(live_hub.url(1), bob.id) as b:
        call = call_create(
            company=acme,
            direction="Inbound",
            from_number="+14155550100",
            to_number="+14155550111",
            twilio_call_sid="CAboth",
        )
        for c in (a, b):
            frame = c.next_event()
            assert frame["event"] == "call.created" and frame["data"]["id"] == call.id


def test_forged_token_is_refused(live_hub):
    user = factories.UserFactory()
    c = Client(live_hub.url(0))
    c.send(
        {"type": "auth", "token": access_token(user.id, key="an-attacker-key-of-thirty-two-bytes")}
    )
    assert c.recv()["code"] == "bad_token"
    with pytest.raises(ConnectionClosed) as closed:
        c.recv()
    assert closed.value.rcvd.code == 4401


def test_randomized_multi_tenant_every_client_gets_exactly_what_it_may_see(live_hub):
    rng = random.Random(20261125)
    companies = [factories.CompanyFactory() for _ in range(3)]
    people: list = []  # (user, {company_id: can_manage_deals})
    for company in companies:
        for role in ("ceo", "sales_manager", "support_staff", "support_staff"):
            user = factories.UserFactory()
            membership = company_user_add(company=company, user=user, role=role)
            people.append((user, {company.id: membership.can_manage_deals}))
    # Someone in two companies, an inactive member, and a customer.
    both = factories.UserFactory()
    company_user_add(company=companies[0], user=both, role="support_staff")
    company_user_add(company=companies[1], user=both, role="manager")
    people.append((both, {companies[0].id: False, companies[1].id: True}))
    inactive = factories.UserFactory()
    m = company_user_add(company=companies[2], user=inactive, role="ceo")
    m.is_active = False
    m.save()
    people.append((inactive, {}))
    customer = factories.CustomerFactory().user
    people.append((customer, {}))

    expected: dict[int, set[int]] = defaultdict(set)
    from hub.domain.events.models import Event

    def last_event_id() -> int:
        event_log_settled()  # the relay logs each committed event (the outbox -> hub_event)
        last = Event.objects.order_by("-id").first()
        return last.id if last else 0

    def expect(event_id: int, user_ids) -> None:
        for uid in user_ids:
            expected[uid].add(event_id)

    def members(company_id: int, managers_only: bool = False) -> list[int]:
        return [
            u.id for u, cs in people if company_id in cs and (cs[company_id] or not managers_only)
        ]

    clients = {}
    try:
        for i, (user, _) in enumerate(people):
            clients[user.id] = Client(live_hub.url(i % 2))
            clients[user.id].auth(user.id)
        deals = []
        for _ in range(60):
            kind = rng.choice(["notification", "call", "deal", "deal_update", "lead", "email"])
            company = rng.choice(companies)
            creator = company.created_by
            if kind == "notification":
                user = rng.choice(people)[0]
                notification_create(user=user, title="n", message="m")
                expect(last_event_id(), [user.id])
            elif kind == "call":
                call_create(
                    company=company,
                    direction="Outbound",
                    from_number="+1",
                    to_number="+2",
                    twilio_call_sid=f"CA{rng.random()}",
                )
                expect(last_event_id(), members(company.id))
            elif kind == "deal":
                assignee = rng.choice([None, *[u for u, cs in people if company.id in cs]])
                deal = deal_create(
                    company=company,
                    created_by=creator,
                    title="d",
                    value=1,
                    contact_name="c",
                    contact_email="c@x.test",
                    company_name="x",
                    assigned_to=assignee,
                )
                deals.append(deal)
                expect(
                    last_event_id(),
                    {
                        *members(company.id, managers_only=True),
                        *([assignee.id] if assignee and assignee.id in members(company.id) else []),
                    },
                )
            elif kind == "deal_update" and deals:
                deal = rng.choice(deals)
                assignee = rng.choice([u for u, cs in people if deal.company_id in cs])
                before = last_event_id()
                deal_assign(deal=deal, assignee=assignee)
                if last_event_id() != before:
                    expect(
                        last_event_id(),
                        {*members(deal.company_id, managers_only=True), assignee.id},
                    )
                stage = rng.choice(list(deal.pipeline.stages.all()))
                before = last_event_id()
                deal_move(deal=deal, stage=stage)
                if last_event_id() != before:
                    expect(
                        last_event_id(),
                        {*members(deal.company_id, managers_only=True), assignee.id},
                    )
            elif kind == "lead":
                lead = lead_create(
                    company=company,
                    created_by=creator,
                    first_name="l",
                    last_name="l",
                    email="l@x.test",
                    lead_source="event",
                )
                expect(last_event_id(), members(company.id, managers_only=True))
                assignee = rng.choice([u for u, cs in people if company.id in cs])
                lead_assign(lead=lead, assignee=assignee)
                expect(last_event_id(), {*members(company.id, managers_only=True), assignee.id})
            elif kind == "email":
                owner = rng.choice([u for u, cs in people if company.id in cs])
                account = factories.EmailAccountFactory(company=company, user=owner)
                email_store(
                    account=account,
                    message_id=f"<{rng.random()}@x>",
                    from_email="a@x.test",
                    subject="s",
                    body_text="b",
                    direction="inbound",
                )
                expect(last_event_id(), [owner.id])
        # A last notification to everyone marks the end of each client's stream.
        sentinels = {}
        for user, _ in people:
            notification_create(user=user, title="sentinel", message="end")
            sentinels[user.id] = last_event_id()
        for user, _ in people:
            received = []
            while True:
                frame = clients[user.id].next_event(timeout=15)
                if frame["id"] == sentinels[user.id]:
                    break
                received.append(frame["id"])
            assert received == sorted(received), f"user {user.id} got events out of order"
            assert set(received) == expected[user.id], f"user {user.id}"
            assert len(received) == len(set(received)), f"user {user.id} got a duplicate"
    finally:
        for c in clients.values():
            c.close()
