"""What the tests of ``/deal`` and ``/lead`` share: Acme's support member without
``can_manage_deals`` (Sam) and Globex's CEO (Charlie) in Slack, and what Slack posts for a
button, a static_select, a users_select, a click and a modal's submission.

``deal_fixtures`` and ``lead_fixtures`` add each command's own and hand these on (``__all__``):
test modules import from those (``from tests.slack.deal_fixtures import …``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from hub.domain.authentication.services import company_user_add
from tests import factories
from tests.slack.conftest import ACME_TEAM, GLOBEX_TEAM, SlackUser, post_signed

__all__ = [
    "BOB_SLACK",
    "act",
    "block_text",
    "button",
    "charlie_slack",
    "elements",
    "sam",
    "sam_slack",
    "static_select",
    "users_select",
]

BOB_SLACK, SAM_SLACK, CHARLIE_SLACK = "UBOB0001", "USAM0001", "UCHARLIE1"


# -- people ------------------------------------------------------------------------------------


def named(user, first: str, last: str):
    user.first_name, user.last_name = first, last
    user.save(update_fields=["first_name", "last_name"])
    return user


def in_slack(client, fake_slack, user, slack_user_id: str, team_id: str = ACME_TEAM) -> SlackUser:
    """``user`` as the Slack user ``slack_user_id`` of the workspace ``team_id``."""
    fake_slack.users[slack_user_id] = user.email
    return SlackUser(client, fake_slack, team_id=team_id, user_id=slack_user_id)


@pytest.fixture
def sam(acme):
    """An Acme support member: an active member without ``can_manage_deals``."""
    user = factories.UserFactory(first_name="Sam", last_name="Support")
    company_user_add(company=acme, user=user, role="support_staff")
    return user


@pytest.fixture
def sam_slack(client, fake_slack, acme_install, sam) -> SlackUser:
    return in_slack(client, fake_slack, sam, SAM_SLACK)


@pytest.fixture
def charlie_slack(client, fake_slack, globex_install, charlie) -> SlackUser:
    return in_slack(client, fake_slack, charlie, CHARLIE_SLACK, GLOBEX_TEAM)


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
    user.last_key = f"{user.user_id}-{user.sent + 1}"
    kind = str(action.get("action_id") or "").partition("_")[0]  # deal_move:42: a deal's card
    return _interaction(
        user,
        "block_actions",
        container={
            "type": "message",
            "message_ts": message_ts,
            "channel_id": "C0SALES01",
            "is_ephemeral": ephemeral,
        },
        channel={"id": "C0SALES01", "name": "sales"},
        response_url=user.fake.response_url(user.last_key),
        actions=[{"block_id": f"{kind}:1", "action_ts": "1700000000.3", **action}],
    )


def view_submit(user: SlackUser, view: dict[str, Any], values: dict[str, Any]):
    """``user`` submits the modal ``view`` (its id, callback_id, private_metadata and blocks,
    as opened) holding ``values``."""
    state = {"state": {"values": values}, "hash": "1700000000.abc"}
    opened = {"team_id": user.team_id, "type": "modal", **view, **state}
    return _interaction(user, "view_submission", view=opened, response_urls=[])


def _interaction(user: SlackUser, kind: str, **fields: Any):
    """Post what Slack posts when ``user`` interacts (``kind``: block_actions, …), signed."""
    user.sent += 1
    payload = {
        "type": kind,
        "team": {"id": user.team_id, "domain": "workspace"},
        "user": {"id": user.user_id, "team_id": user.team_id},
        "api_app_id": "A0HUB0001",
        "token": "deprecated-verification-token",
        "trigger_id": f"{user.sent}.789.ghi",
        **fields,
    }
    return post_signed(user.client, urlencode({"payload": json.dumps(payload)}))


# -- what the hub answers ----------------------------------------------------------------------


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
        for element in block.get("elements", []):
            if "action_id" in element:
                found[element["action_id"]] = element
        if "accessory" in block:
            found[block["accessory"]["action_id"]] = block["accessory"]
    return found
