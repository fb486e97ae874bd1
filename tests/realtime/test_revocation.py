"""An open /ws/ connection does not outlive its access: token expiry, deactivation, membership changes."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async

from hub.consumers.dispatcher import _current_viewers, dispatcher
from tests import factories
from tests.realtime.helpers import access_token, communicator, connect_as
from tests.realtime.test_routing import acme_call_and_deal, events_queued, events_until

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def make_acme() -> dict:
    acme = factories.CompanyFactory(company_name="Acme")
    return {
        "acme": acme,
        "manager": factories.CompanyUserFactory(company=acme, can_manage_deals=True),
        "member": factories.CompanyUserFactory(company=acme, can_manage_deals=False),
    }


@database_sync_to_async
def update(obj, **fields) -> None:
    type(obj).objects.filter(pk=obj.pk).update(**fields)


async def until(condition, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def connections_of(user_id: int) -> set:
    return set(dispatcher.by_user.get(user_id, ()))


async def test_connection_is_closed_4401_when_its_token_expires():
    user = await database_sync_to_async(factories.UserFactory)()
    comm = communicator()
    await comm.connect()
    # Expired 4 s ago: still accepted thanks to the 5 s leeway, so it runs out in about 1 s.
    await comm.send_json_to({"type": "auth", "token": access_token(user.id, lifetime=-4)})
    assert (await comm.receive_json_from(timeout=5))["type"] == "hello"
    error = await comm.receive_json_from(timeout=5)
    assert error == {"type": "error", "code": "bad_token", "message": "token expired"}
    closed = await comm.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4401, "reason": "token expired"}
    assert not connections_of(user.id)


async def test_connection_with_a_valid_token_stays_open():
    user = await database_sync_to_async(factories.UserFactory)()
    comm, _ = await connect_as(user.id)  # a 300 s token
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from(timeout=5) == {"type": "pong"}
    assert await comm.receive_nothing(timeout=2.5)
    await comm.disconnect()


async def test_deactivated_membership_stops_receiving_company_events(settings):
    settings.HUB_WS_REVALIDATE_SECONDS = 1
    acme = await make_acme()
    manager, _ = await connect_as(acme["manager"].user_id)
    member, _ = await connect_as(acme["member"].user_id)
    [conn] = connections_of(acme["member"].user_id)
    assert conn.viewer.companies == {acme["acme"].id: False}

    await update(acme["member"], is_active=False)
    await until(lambda: not conn.viewer.companies)
    assert conn not in dispatcher.by_company.get(acme["acme"].id, ())
    await acme_call_and_deal(
        acme["acme"], assignee=acme["manager"].user, created_by=acme["manager"].user
    )
    await events_until(manager, "deal.created")
    assert await events_queued(member) == []
    # Still connected: only what it may see has changed.
    await member.send_json_to({"type": "ping"})
    assert await member.receive_json_from() == {"type": "pong"}
    await manager.disconnect()
    await member.disconnect()


async def test_granted_deal_management_takes_effect_without_reconnecting():
    acme = await make_acme()
    member, _ = await connect_as(acme["member"].user_id)
    await update(acme["member"], can_manage_deals=True)
    await dispatcher.revalidate()
    [conn] = connections_of(acme["member"].user_id)
    assert conn.viewer.companies == {acme["acme"].id: True}
    await acme_call_and_deal(
        acme["acme"], assignee=acme["manager"].user, created_by=acme["manager"].user
    )
    events = await events_until(member, "deal.created")
    assert [f["event"] for f in events] == ["call.created", "deal.created"]
    await member.disconnect()


async def test_user_made_inactive_is_closed_4403(settings):
    settings.HUB_WS_REVALIDATE_SECONDS = 1
    acme = await make_acme()
    member, _ = await connect_as(acme["member"].user_id)
    await update(acme["member"].user, is_active=False)
    error = await member.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == "inactive_user"
    closed = await member.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4403, "reason": "inactive user"}
    assert not connections_of(acme["member"].user_id)


async def test_deleted_user_is_closed_4401():
    acme = await make_acme()
    member, _ = await connect_as(acme["member"].user_id)
    await database_sync_to_async(acme["member"].user.delete)()
    await dispatcher.revalidate()
    assert (await member.receive_json_from())["code"] == "bad_token"
    closed = await member.receive_output()
    assert closed == {"type": "websocket.close", "code": 4401, "reason": "unknown user"}


def test_revalidation_builds_the_same_viewers_in_two_queries(django_assert_num_queries):
    from hub.domain.events.selectors import viewer_for_user

    acme = factories.CompanyFactory()
    globex = factories.CompanyFactory()
    closed = factories.CompanyFactory(is_active=False)
    users = [
        factories.CompanyUserFactory(company=acme, can_manage_deals=True).user,
        factories.CompanyUserFactory(company=acme, can_manage_deals=False).user,
        factories.CompanyUserFactory(company=acme, is_active=False).user,
        factories.CompanyUserFactory(company=closed).user,
        factories.UserFactory(),
    ]
    both = factories.CompanyUserFactory(company=acme, can_manage_deals=False).user
    factories.CompanyUserFactory(user=both, company=globex, can_manage_deals=True)
    customer = factories.CustomerCompanyFactory(company=acme).customer.user
    factories.CompanyUserFactory(user=customer, company=acme)
    inactive = factories.UserFactory(is_active=False)
    users += [both, customer, inactive]

    with django_assert_num_queries(2):
        current = _current_viewers.func({u.id for u in users} | {10**9})
    assert set(current) == {u.id for u in users}  # the unknown id is simply absent
    for user in users:
        assert current[user.id] == (user.is_active, viewer_for_user(user=user)), user
    assert current[both.id][1].companies == {acme.id: False, globex.id: True}
