"""Fixtures and payload builders for ``/deal``: Acme's members (a manager, and from
``crm_fixtures`` a support member without ``can_manage_deals``), an outsider at Globex, deals of
both companies, and what Slack posts for a click and the forms' submissions.

Test modules import what they use from here (``from tests.slack.deal_fixtures import …``).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from hub.domain.crm.models import Deal, DealStage
from tests import factories
from tests.slack.conftest import SlackUser
from tests.slack.crm_fixtures import *  # noqa: F403 (its __all__, handed on to the test modules)
from tests.slack.crm_fixtures import BOB_SLACK, block_text, in_slack, named, view_submit

# -- people ------------------------------------------------------------------------------------


@pytest.fixture
def deal_alice(alice_slack, alice) -> SlackUser:
    named(alice, "Alice", "Archer")
    return alice_slack


@pytest.fixture
def deal_bob(client, fake_slack, acme_install, bob) -> SlackUser:
    return in_slack(client, fake_slack, named(bob, "Bob", "Builder"), BOB_SLACK)


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


#: Every text of a message's blocks (sections, fields, contexts), one per line.
blocks_text = block_text


# -- what Slack sends --------------------------------------------------------------------------


def submit(user: SlackUser, view: dict[str, Any], values: dict[str, Any]):
    """``user`` submits the modal ``view`` (as opened with views.open) holding ``values``."""
    opened = {
        "id": "V0FORM0001",
        "callback_id": view["callback_id"],
        "private_metadata": view.get("private_metadata", ""),
        "blocks": view.get("blocks", []),
    }
    return view_submit(user, opened, values)


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
