"""Fixtures and payload builders for ``/lead``: members of Acme with and without
``can_manage_deals`` (the latter from ``crm_fixtures``), an outsider at Globex, leads, and the
new-lead form's submission.

Test modules import the fixtures they use from here (``from tests.slack.lead_fixtures import …``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests import factories
from tests.slack.conftest import SlackUser
from tests.slack.crm_fixtures import *  # noqa: F403 (its __all__, handed on to the test modules)
from tests.slack.crm_fixtures import BOB_SLACK, in_slack, named, view_submit

# -- people ------------------------------------------------------------------------------------


@pytest.fixture
def named_alice(alice):
    return named(alice, "Alice", "Archer")


@pytest.fixture
def named_bob(bob):
    return named(bob, "Bob", "Builder")


@pytest.fixture
def lead_alice(alice_slack, named_alice) -> SlackUser:
    return alice_slack


@pytest.fixture
def bob_slack(client, fake_slack, acme_install, named_bob) -> SlackUser:
    return in_slack(client, fake_slack, named_bob, BOB_SLACK)


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
    view = {"id": "V0LEADNEW", "callback_id": callback_id, "private_metadata": private_metadata}
    return view_submit(user, view, values)


def ack(response) -> dict[str, Any]:
    """The JSON a command's ack carries (its text, blocks, response_type)."""
    assert response.status_code == 200, response.content
    return response.json()
