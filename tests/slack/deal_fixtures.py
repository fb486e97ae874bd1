"""Fixtures and payload builders for ``/deal``: Acme's members (a manager, a support member
without ``can_manage_deals``), an outsider at Globex, deals of both companies, and what Slack
posts for a static_select, a users_select, a button and a modal's submission.

Test modules import what they use from here (``from tests.slack.deal_fixtures import …``).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from hub.domain.authentication.services import company_user_add
from hub.domain.crm.models import Deal, DealStage
from tests import factories
from tests.slack.conftest import ACME_TEAM, GLOBEX_TEAM, SlackUser, post_signed

BOB_SLACK, SAM_SLACK, CHARLIE_SLACK = "UBOBDEAL1", "USAMDEAL1", "UCHARLIE2"


# -- people ------------------------------------------------------------------------------------


def _named(user, first: str, last: str):
    user.first_name, user.last_name = first, last
    user.save(update_fields=["first_name", "last_name"])
    return user


@pytest.fixture
def deal_alice(alice_slack, alice) -> SlackUser:
    _named(alice, "Alice", "Archer")
    return alice_slack


@pytest.fixture
def deal_bob(client, fake_slack, acme_install, bob) -> SlackUser:
    _named(bob, "Bob", "Builder")
    fake_slack.users[BOB_SLACK] = bob.email
    return SlackUser(client, fake_slack, team_id=ACME_TEAM, user_id=BOB_SLACK)


@pytest.fixture
def sam(acme):
    """An Acme support member: active, without ``can_manage_deals``."""
    user = factories.UserFactory(first_name="Sam", last_name="Support")
    company_user_add(company=acme, user=user, role="support_staff")
    return user


@pytest.fixture
def sam_slack(client, fake_slack, acme_install, sam) -> SlackUser:
    fake_slack.users[SAM_SLACK] = sam.email
    return SlackUser(client, fake_slack, team_id=ACME_TEAM, user_id=SAM_SLACK)


@pytest.fixture
def charlie_slack(client, fake_slack, globex_install, charlie) -> SlackUser:
    fake_slack.users[CHARLIE_SLACK] = charlie.email
    return SlackUser(client, fake_slack, team_id=GLOBEX_TEAM, user_id=CHARLIE_SLACK)


# -- pipelines and deals -----------------------------------------------------------------------


def stages(company) -> dict[str, DealStage]:
    """The company's default pipeline's stages by name (``pipeline_create_default``'s)."""
    pipeline = company.pipelines.get(is_default=True)
    return {stage.name: stage for stage in pipeline.stages.all()}


def deal(company, title: str, stage: str = "Prospecting", **fields: Any) -> Deal:
    at = stages(company)[stage]
    fields.setdefault("value", Decimal("1000.00"))
    return factories.DealFactory(
        company=company, title=title, stage=at, probability=at.probability, **fields
    )


@pytest.fixture
def renewal(acme) -> Deal:
    """Acme's deal in Qualification, worth $12,500, with a contact's phone."""
    return deal(
        acme,
        "Umbrella renewal",
        "Qualification",
        value=Decimal("12500.00"),
        contact_name="Pat Roe",
        contact_email="pat@umbrella.test",
        contact_phone="+14155550188",
        company_name="Umbrella Corp",
        expected_close_date=date(2030, 6, 30),
    )


@pytest.fixture
def globex_deal(globex) -> Deal:
    return deal(globex, "Globex secret", "Proposal", value=Decimal("99000.00"))


def refreshed(record: Deal) -> Deal:
    return Deal.objects.select_related("stage").get(pk=record.pk)


# -- what Slack sends --------------------------------------------------------------------------


def button(action_id: str, value: str = "") -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "value": value}


def static_select(action_id: str, value: str) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": value}, "value": value}
    return {"type": "static_select", "action_id": action_id, "selected_option": option}


def users_select(action_id: str, slack_user_id: str) -> dict[str, Any]:
    return {"type": "users_select", "action_id": action_id, "selected_user": slack_user_id}


def act(user: SlackUser, action: dict[str, Any], *, ephemeral: bool = True):
    """``user`` uses one element (button, select) of a message, as Slack posts it."""
    user.sent += 1
    user.last_key = f"{user.user_id}-{user.sent}"
    payload = {
        "type": "block_actions",
        "team": {"id": user.team_id, "domain": "workspace"},
        "user": {"id": user.user_id, "team_id": user.team_id},
        "api_app_id": "A0HUB0001",
        "token": "deprecated-verification-token",
        "container": {
            "type": "message",
            "message_ts": "1700000000.000400",
            "channel_id": "C0SALES01",
            "is_ephemeral": ephemeral,
        },
        "trigger_id": f"{user.sent}.789.ghi",
        "channel": {"id": "C0SALES01", "name": "sales"},
        "response_url": user.fake.response_url(user.last_key),
        "actions": [{"block_id": "deal:1", "action_ts": "1700000000.3", **action}],
    }
    return post_signed(user.client, urlencode({"payload": json.dumps(payload)}))


def submit(user: SlackUser, view: dict[str, Any], values: dict[str, Any]):
    """``user`` submits the modal ``view`` (as opened with views.open) holding ``values``."""
    user.sent += 1
    payload = {
        "type": "view_submission",
        "team": {"id": user.team_id, "domain": "workspace"},
        "user": {"id": user.user_id, "team_id": user.team_id},
        "api_app_id": "A0HUB0001",
        "token": "deprecated-verification-token",
        "trigger_id": f"{user.sent}.789.ghi",
        "view": {
            "id": "V0FORM0001",
            "team_id": user.team_id,
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view.get("private_metadata", ""),
            "blocks": view.get("blocks", []),
            "state": {"values": values},
            "hash": "1700000000.abc",
        },
        "response_urls": [],
    }
    return post_signed(user.client, urlencode({"payload": json.dumps(payload)}))


def answered(fake_slack, key: str, count: int = 1) -> list[dict[str, Any]]:
    """The posts to a response URL, once there are ``count`` (the fake records each once
    answered, a moment after the hub has read the answer)."""
    return fake_slack.wait_for(
        lambda: len(fake_slack.responses(key)) >= count and fake_slack.responses(key)
    )


def opened_view(fake_slack, count: int = 1) -> dict[str, Any]:
    """The last modal the hub opened (``views.open``), once ``count`` were opened."""
    calls = fake_slack.wait_for(
        lambda: (
            len(fake_slack.api_calls("views.open")) >= count and fake_slack.api_calls("views.open")
        )
    )
    view = calls[-1].body["view"]
    return json.loads(view) if isinstance(view, str) else view


def text_value(value: str | None, kind: str = "plain_text_input") -> dict[str, Any]:
    return {"value": {"type": kind, "value": value}}


def new_deal_values(stage: DealStage | None, **fields: Any) -> dict[str, Any]:
    """The "New deal" form's ``state.values`` as Slack submits them."""
    kinds = {"value": "number_input", "contact_email": "email_text_input"}
    values = {
        name: text_value(fields.get(name), kinds.get(name, "plain_text_input"))
        for name in (
            "title",
            "value",
            "currency",
            "company_name",
            "contact_name",
            "contact_email",
            "contact_phone",
        )
    }
    option = (
        {"text": {"type": "plain_text", "text": "x"}, "value": str(stage.pk)} if stage else None
    )
    values["stage"] = {"value": {"type": "static_select", "selected_option": option}}
    values["close"] = {"value": {"type": "datepicker", "selected_date": fields.get("close")}}
    values["assignee"] = {
        "value": {"type": "users_select", "selected_user": fields.get("assignee")}
    }
    return values


def blocks_text(blocks: list[dict[str, Any]]) -> str:
    """Every mrkdwn text of the blocks (sections, their fields, context), joined."""
    parts: list[str] = []
    for block in blocks:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts.extend(field["text"] for field in block.get("fields", []))
        parts.extend(
            e.get("text", "") for e in block.get("elements", []) if e.get("type") == "mrkdwn"
        )
    return "\n".join(parts)


def elements(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The interactive elements of the blocks by action id (accessories too)."""
    found: dict[str, dict[str, Any]] = {}
    for block in blocks:
        for element in block.get("elements", []):
            if "action_id" in element:
                found[element["action_id"]] = element
        if "accessory" in block:
            found[block["accessory"]["action_id"]] = block["accessory"]
    return found
