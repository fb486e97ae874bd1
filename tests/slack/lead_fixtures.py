"""Fixtures and payload builders for ``/lead``: members of Acme with and without
``can_manage_deals``, an outsider at Globex, leads, and the interaction payloads Slack sends for
a button, a static_select, a users_select and a modal's submission.

Test modules import the fixtures they use from here (``from tests.slack.lead_fixtures import …``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from hub.domain.authentication.services import company_user_add
from tests import factories
from tests.slack.conftest import ACME_TEAM, GLOBEX_TEAM, SlackUser, post_signed

BOB_SLACK, SAM_SLACK, CHARLIE_SLACK = "UBOB0001", "USAM0001", "UCHARLIE1"


# -- people ------------------------------------------------------------------------------------


def _named(user, first: str, last: str):
    user.first_name, user.last_name = first, last
    user.save(update_fields=["first_name", "last_name"])
    return user


@pytest.fixture
def named_alice(alice):
    return _named(alice, "Alice", "Archer")


@pytest.fixture
def named_bob(bob):
    return _named(bob, "Bob", "Builder")


@pytest.fixture
def sam(acme):
    """An Acme support member: an active member without ``can_manage_deals``."""
    user = factories.UserFactory(first_name="Sam", last_name="Support")
    company_user_add(company=acme, user=user, role="support_staff")
    return user


@pytest.fixture
def lead_alice(alice_slack, named_alice) -> SlackUser:
    return alice_slack


@pytest.fixture
def bob_slack(client, fake_slack, acme_install, named_bob) -> SlackUser:
    fake_slack.users[BOB_SLACK] = named_bob.email
    return SlackUser(client, fake_slack, team_id=ACME_TEAM, user_id=BOB_SLACK)


@pytest.fixture
def sam_slack(client, fake_slack, acme_install, sam) -> SlackUser:
    fake_slack.users[SAM_SLACK] = sam.email
    return SlackUser(client, fake_slack, team_id=ACME_TEAM, user_id=SAM_SLACK)


@pytest.fixture
def charlie_slack(client, fake_slack, globex_install, charlie) -> SlackUser:
    fake_slack.users[CHARLIE_SLACK] = charlie.email
    return SlackUser(client, fake_slack, team_id=GLOBEX_TEAM, user_id=CHARLIE_SLACK)


# -- leads -------------------------------------------------------------------------------------


@pytest.fixture
def jane(acme):
    return factories.LeadFactory(
        company=acme,
        first_name="Jane",
        last_name="Doe",
        company_name="Initech",
        job_title="CTO",
        phone="+14155550123",
        email="jane@initech.test",
        estimated_value=Decimal("12500.00"),
    )


@pytest.fixture
def globex_lead(globex):
    return factories.LeadFactory(company=globex, first_name="Gina", last_name="Globex")


# -- what Slack sends --------------------------------------------------------------------------


def button(action_id: str, value: str = "") -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "value": value}


def static_select(action_id: str, value: str, label: str | None = None) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": label or value}, "value": value}
    return {"type": "static_select", "action_id": action_id, "selected_option": option}


def users_select(action_id: str, slack_user_id: str) -> dict[str, Any]:
    return {"type": "users_select", "action_id": action_id, "selected_user": slack_user_id}


def act(
    user: SlackUser,
    action: dict[str, Any],
    *,
    ephemeral: bool = True,
    message_ts: str = "1700000000.000300",
):
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
            "message_ts": message_ts,
            "channel_id": "C0SALES01",
            "is_ephemeral": ephemeral,
        },
        "trigger_id": f"{user.sent}.456.def",
        "channel": {"id": "C0SALES01", "name": "sales"},
        "response_url": user.fake.response_url(user.last_key),
        "actions": [{"block_id": "lead:1", "action_ts": "1700000000.2", **action}],
    }
    return post_signed(user.client, urlencode({"payload": json.dumps(payload)}))


def form(**fields: Any) -> dict[str, Any]:
    """The new-lead form's ``state.values`` as Slack submits them (unset inputs: no value)."""
    kinds = {"email": "email_text_input", "estimated_value": "number_input"}
    values: dict[str, Any] = {}
    for name in ("first_name", "last_name", "email", "phone", "company_name", "job_title"):
        element = {"type": kinds.get(name, "plain_text_input"), "value": fields.get(name)}
        values[name] = {"value": element}
    source = fields.get("lead_source")
    values["lead_source"] = {
        "value": {
            "type": "static_select",
            "selected_option": (
                {"text": {"type": "plain_text", "text": source}, "value": source}
                if source
                else None
            ),
        }
    }
    values["estimated_value"] = {
        "value": {"type": "number_input", "value": fields.get("estimated_value")}
    }
    values["assigned_to"] = {
        "value": {"type": "users_select", "selected_user": fields.get("assigned_to")}
    }
    return values


def submit(
    user: SlackUser,
    values: dict[str, Any],
    *,
    callback_id: str = "lead_new",
    private_metadata: str = "",
):
    """``user`` submits a modal (``view_submission``) with these ``state.values``."""
    user.sent += 1
    payload = {
        "type": "view_submission",
        "team": {"id": user.team_id, "domain": "workspace"},
        "user": {"id": user.user_id, "team_id": user.team_id},
        "api_app_id": "A0HUB0001",
        "token": "deprecated-verification-token",
        "trigger_id": f"{user.sent}.789.ghi",
        "view": {
            "id": "V0LEADNEW",
            "team_id": user.team_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": values},
            "hash": "1700000000.abc",
        },
        "response_urls": [],
    }
    return post_signed(user.client, urlencode({"payload": json.dumps(payload)}))


def ack(response) -> dict[str, Any]:
    """The JSON a command's ack carries (its text, blocks, response_type)."""
    assert response.status_code == 200, response.content
    return response.json()


def block_text(blocks: list[dict[str, Any]]) -> str:
    """Every text of a message's blocks, one per line (sections, fields, contexts)."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        parts.extend(f["text"] for f in block.get("fields", []))
        parts.extend(
            e.get("text", "") for e in block.get("elements", []) if e.get("type") == "mrkdwn"
        )
    return "\n".join(parts)


def elements(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The interactive elements of a message by action id (actions blocks and accessories)."""
    found: dict[str, dict[str, Any]] = {}
    for block in blocks:
        if block.get("type") == "actions":
            found.update({e["action_id"]: e for e in block["elements"]})
        if "accessory" in block:
            found[block["accessory"]["action_id"]] = block["accessory"]
    return found
