"""Company-level routing over /ws/: who receives a company's call and deal events, live and on resume."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async

from hub.consumers.dispatcher import dispatcher
from tests import factories
from tests.realtime.helpers import connect_as

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def make_people() -> dict:
    acme = factories.CompanyFactory(company_name="Acme")
    globex = factories.CompanyFactory(company_name="Globex")
    manager = factories.CompanyUserFactory(company=acme, can_manage_deals=True).user
    member = factories.CompanyUserFactory(company=acme, can_manage_deals=False).user
    inactive = factories.CompanyUserFactory(
        company=acme, can_manage_deals=True, is_active=False
    ).user
    outsider = factories.CompanyUserFactory(company=globex, can_manage_deals=True).user
    customer = factories.CustomerCompanyFactory(company=acme).customer.user
    # Even a membership row does not make a customer account part of the company's audience.
    factories.CompanyUserFactory(user=customer, company=acme, can_manage_deals=True)
    return {
        "acme": acme,
        "manager": manager,
        "member": member,
        "inactive": inactive,
        "outsider": outsider,
        "customer": customer,
    }


@database_sync_to_async
def acme_call_and_deal(acme, *, assignee, created_by) -> tuple[int, int]:
    from hub.domain.calls.services import call_create
    from hub.domain.crm.services import deal_create

    call = call_create(
        company=acme,
        direction="Inbound",
        from_number="+14155550100",
        to_number="+14155550199",
        twilio_call_sid="CA" + "7" * 32,
    )
    deal = deal_create(
        company=acme,
        created_by=created_by,
        title="Big one",
        value=Decimal("1200"),
        contact_name="C",
        contact_email="c@x.test",
        company_name="X",
        assigned_to=assignee,
    )
    return call.id, deal.id


@database_sync_to_async
def notify(user, title: str) -> str:
    from hub.domain.notifications.services import notification_create

    return str(notification_create(user=user, title=title, message="m").id)


async def events_until(comm, event_type: str, timeout: float = 10) -> list[dict]:
    """Event frames up to and including the first of ``event_type``."""
    events = []
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame["type"] != "event":
            continue
        events.append(frame)
        if frame["event"] == event_type:
            return events


async def events_queued(comm) -> list[dict]:
    """Event frames already delivered to ``comm`` (nothing more arriving)."""
    events = []
    while not await comm.receive_nothing(timeout=0.3):
        frame = await comm.receive_json_from()
        if frame["type"] == "event":
            events.append(frame)
    return events


def summary(events: list[dict]) -> list[tuple[str, str]]:
    return [(f["event"], str(f["data"]["id"])) for f in events]


async def test_call_reaches_active_members_and_deal_reaches_managers_and_assignee():
    people = await make_people()
    comms = {}
    for name in ("manager", "member", "inactive", "outsider", "customer"):
        comms[name], hello = await connect_as(people[name].id)
        if name == "inactive":
            assert hello["companies"] == []
    call_id, deal_id = await acme_call_and_deal(
        people["acme"], assignee=people["member"], created_by=people["manager"]
    )
    both = [("call.created", str(call_id)), ("deal.created", str(deal_id))]

    assert summary(await events_until(comms["manager"], "deal.created")) == both
    assert summary(await events_until(comms["member"], "deal.created")) == both
    # Every event has been fanned out by now: whatever the others were sent is already queued.
    for name in ("manager", "member", "inactive", "outsider", "customer"):
        assert await events_queued(comms[name]) == [], name
    for comm in comms.values():
        await comm.disconnect()


async def test_call_reaches_non_managers_but_deal_skips_them():
    people = await make_people()
    other_member = await database_sync_to_async(factories.CompanyUserFactory)(
        company=people["acme"], can_manage_deals=False
    )
    manager, _ = await connect_as(people["manager"].id)
    bystander, _ = await connect_as(other_member.user_id)
    call_id, _ = await acme_call_and_deal(
        people["acme"], assignee=people["member"], created_by=people["manager"]
    )
    await events_until(manager, "deal.created")
    # A member who neither manages deals nor holds this one sees the call, not the deal.
    assert summary(await events_queued(bystander)) == [("call.created", str(call_id))]
    await manager.disconnect()
    await bystander.disconnect()


async def test_resume_from_before_another_companys_events_replays_none_of_them():
    people = await make_people()
    outsider, hello = await connect_as(people["outsider"].id)
    before = hello["latest_event_id"]
    await outsider.disconnect()
    manager, _ = await connect_as(people["manager"].id)
    own = await notify(people["outsider"], "for the outsider")
    await acme_call_and_deal(
        people["acme"], assignee=people["member"], created_by=people["manager"]
    )
    # Once Acme's manager has them live and the process has settled past them, the log holds
    # them all for a resume, and none is still on its way live.
    last = (await events_until(manager, "deal.created"))[-1]["id"]
    for _ in range(100):
        if dispatcher.latest_id() >= last:
            break
        await asyncio.sleep(0.05)
    assert dispatcher.latest_id() >= last

    outsider, _ = await connect_as(people["outsider"].id)
    await outsider.send_json_to({"type": "resume", "after": before})
    events, resumed = [], None
    # Only the outsider's own notification is replayed.
    while not events or resumed is None:
        frame = await outsider.receive_json_from(timeout=10)
        if frame["type"] == "event":
            events.append(frame)
        else:
            assert frame["type"] == "resumed", frame
            resumed = frame
    events += await events_queued(outsider)
    assert summary(events) == [("notification.created", own)]
    assert resumed["recovered"] is True and resumed["replayed"] == 1

    # The same resume as Acme's manager does replay them (the log really has them).
    await manager.disconnect()
    manager, _ = await connect_as(people["manager"].id)
    await manager.send_json_to({"type": "resume", "after": before})
    replayed = await events_until(manager, "deal.created")
    assert [f["event"] for f in replayed] == ["call.created", "deal.created"]
    await manager.disconnect()
    await outsider.disconnect()


async def test_a_superuser_receives_every_companys_events_but_not_others_notifications():
    people = await make_people()
    root = await database_sync_to_async(factories.UserFactory)(is_superuser=True, is_staff=True)
    superuser, hello = await connect_as(root.id)
    assert hello["every_company"] is True and hello["companies"] == []
    manager, hello = await connect_as(people["manager"].id)
    assert hello["every_company"] is False
    await notify(people["manager"], "for the manager only")
    call_id, deal_id = await acme_call_and_deal(
        people["acme"], assignee=people["member"], created_by=people["manager"]
    )

    both = [("call.created", str(call_id)), ("deal.created", str(deal_id))]
    frames = await events_until(superuser, "deal.created")
    assert summary(frames) == both
    # Each frame names its company, so a page showing several can label and filter it.
    assert [f["company_id"] for f in frames] == [people["acme"].id] * 2
    await events_until(manager, "deal.created")
    assert await events_queued(superuser) == []
    for comm in (superuser, manager):
        await comm.disconnect()


async def test_a_superuser_customer_account_sees_only_its_own_notifications():
    people = await make_people()
    customer = people["customer"]
    await database_sync_to_async(type(customer).objects.filter(pk=customer.pk).update)(
        is_superuser=True
    )
    comm, hello = await connect_as(customer.id)
    assert hello["every_company"] is False
    manager, _ = await connect_as(people["manager"].id)
    await acme_call_and_deal(people["acme"], assignee=None, created_by=people["manager"])
    await events_until(manager, "deal.created")
    assert await events_queued(comm) == []
    for c in (comm, manager):
        await c.disconnect()
