"""``/lead new``: the modal opened with the command's trigger_id, its submission validated with
the errors shown inline, and the new lead's card sent to its creator by an actor (where the
command was run, through its response_url; a DM when there is none)."""

# ruff: noqa: F811 (the fixtures imported from lead_fixtures are these tests' arguments)
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from hub.bots import lead_messages as msg
from hub.domain.crm.models import Lead
from tests.slack.conftest import ACME_TEAM, SlackUser
from tests.slack.lead_fixtures import (  # noqa: F401 (fixtures)
    BOB_SLACK,
    block_text,
    bob_slack,
    charlie_slack,
    elements,
    form,
    lead_alice,
    named_alice,
    named_bob,
    sam,
    sam_slack,
    submit,
)

pytestmark = pytest.mark.django_db(transaction=True)

GOOD = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@engines.test",
    "phone": "+44 20 7946 0018",
    "company_name": "Analytical Engines",
    "job_title": "Countess",
    "lead_source": "referral",
    "estimated_value": "12500.5",
}


def ack_of(response) -> dict:
    assert response.status_code == 200, response.content
    return json.loads(response.content) if response.content else {}


def test_new_opens_the_form_with_the_commands_trigger_id(lead_alice, fake_slack):
    response = lead_alice.command("new", command="/lead")

    assert response.status_code == 200
    assert response.content == b""  # no message: the form is open
    [opened] = fake_slack.api_calls("views.open")
    assert opened.body["trigger_id"] == f"{lead_alice.sent}.123.abc"
    view = opened.body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "lead_new"
    assert json.loads(view["private_metadata"]) == {
        "response_url": fake_slack.response_url(lead_alice.last_key)
    }
    blocks = {block["block_id"]: block for block in view["blocks"]}
    assert list(blocks) == [
        "first_name",
        "last_name",
        "email",
        "phone",
        "company_name",
        "job_title",
        "lead_source",
        "estimated_value",
        "assigned_to",
    ]
    assert blocks["email"]["element"]["type"] == "email_text_input"
    assert blocks["lead_source"]["element"]["type"] == "static_select"
    assert blocks["assigned_to"]["element"]["type"] == "users_select"
    assert blocks["assigned_to"]["element"]["initial_user"] == "UALICE01"
    assert blocks["estimated_value"]["element"]["type"] == "number_input"
    assert [b["block_id"] for b in view["blocks"] if not b["optional"]] == [
        "first_name",
        "last_name",
        "email",
        "lead_source",
    ]


def test_a_form_slack_will_not_open_is_explained(lead_alice, fake_slack):
    fake_slack.queue("views.open", error="expired_trigger_id")

    body = ack_of(lead_alice.command("new", command="/lead"))

    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith("Slack did not open the form (Slack refused views.open")


def test_a_submission_creates_the_lead_and_dms_its_card(
    lead_alice, named_alice, acme, worker, fake_slack
):
    assert ack_of(submit(lead_alice, form(**GOOD))) == {}  # the form closes

    lead = Lead.objects.get()
    assert (lead.company, lead.created_by, lead.assigned_to) == (acme, named_alice, None)
    assert (lead.first_name, lead.last_name, lead.email) == ("Ada", "Lovelace", "ada@engines.test")
    assert (lead.phone, lead.company_name, lead.job_title) == (
        "+44 20 7946 0018",
        "Analytical Engines",
        "Countess",
    )
    assert (lead.lead_source, lead.estimated_value) == ("referral", Decimal("12500.50"))
    worker.drain()

    [opened] = fake_slack.api_calls("conversations.open")
    assert opened.body["users"] == "UALICE01"
    [posted] = fake_slack.api_calls("chat.postMessage")
    assert posted.body["channel"] == "DALICE01"
    assert posted.body["text"] == f"Alice Archer created lead #{lead.pk} Ada Lovelace."
    blocks = posted.body["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert "*Estimated value*\n12,500.50" in block_text(blocks)
    assert f"lead_status:{lead.pk}" in elements(blocks)


def test_the_assignee_picked_in_the_form_gets_the_lead(
    lead_alice, bob_slack, named_bob, worker, fake_slack
):
    assert ack_of(submit(lead_alice, form(**GOOD, assigned_to=BOB_SLACK))) == {}
    worker.drain()

    lead = Lead.objects.get()
    assert lead.assigned_to == named_bob
    [posted] = fake_slack.api_calls("chat.postMessage")
    assert "*Assigned to*\nBob Builder" in block_text(posted.body["blocks"])


def test_an_assignee_outside_the_company_is_an_inline_error(lead_alice, charlie_slack, worker):
    body = ack_of(submit(lead_alice, form(**GOOD, assigned_to="UCHARLIE1")))

    assert body == {"response_action": "errors", "errors": {"assigned_to": msg.ASSIGNEE_UNLINKED}}
    assert not Lead.objects.exists()


def test_the_card_is_answered_where_the_command_was_run(lead_alice, worker, fake_slack):
    metadata = json.dumps({"response_url": fake_slack.response_url("new-lead")})

    assert ack_of(submit(lead_alice, form(**GOOD), private_metadata=metadata)) == {}
    worker.drain()

    lead = Lead.objects.get()
    [reply] = fake_slack.responses("new-lead")
    assert reply["text"] == f"Alice Archer created lead #{lead.pk} Ada Lovelace."
    assert reply["response_type"] == "ephemeral"
    assert f"lead_status:{lead.pk}" in elements(reply["blocks"])
    assert fake_slack.api_calls("chat.postMessage") == []


def test_an_expired_response_url_falls_back_to_a_dm(lead_alice, worker, fake_slack):
    fake_slack.expired.add("new-lead")
    metadata = json.dumps({"response_url": fake_slack.response_url("new-lead")})

    submit(lead_alice, form(**GOOD), private_metadata=metadata)
    worker.drain()

    [posted] = fake_slack.api_calls("chat.postMessage")
    assert posted.body["channel"] == "DALICE01"


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"email": "not-an-email"}, {"email": "Enter a valid email address."}),
        ({"first_name": "  "}, {"first_name": msg.REQUIRED}),
        (
            {"first_name": None, "last_name": "\x00"},
            {"first_name": msg.REQUIRED, "last_name": msg.REQUIRED},
        ),
        ({"lead_source": None}, {"lead_source": msg.PICK_SOURCE}),
        ({"estimated_value": "lots"}, {"estimated_value": msg.BAD_VALUE}),
        ({"estimated_value": "-3"}, {"estimated_value": msg.BAD_VALUE}),
        ({"estimated_value": "NaN"}, {"estimated_value": msg.BAD_VALUE}),
        ({"estimated_value": "1e12"}, {"estimated_value": msg.VALUE_TOO_LARGE}),
        (
            {"first_name": "A" * 200},
            {"first_name": "Ensure this value has at most 120 characters (it has 200)."},
        ),
        ({"lead_source": "bogus"}, {"lead_source": "Value 'bogus' is not a valid choice."}),
        (
            {"phone": "1" * 40},
            {"phone": "Ensure this value has at most 32 characters (it has 40)."},
        ),
    ],
)
def test_errors_are_shown_inline_and_nothing_is_created(
    lead_alice, worker, fake_slack, change, errors
):
    body = ack_of(submit(lead_alice, form(**{**GOOD, **change})))

    assert body == {"response_action": "errors", "errors": errors}
    assert not Lead.objects.exists()
    worker.drain()
    assert fake_slack.api_calls("chat.postMessage") == []


def test_a_member_without_deal_rights_cannot_create_a_lead(sam_slack, sam, fake_slack, worker):
    assert ack_of(sam_slack.command("new", command="/lead"))["text"].startswith(
        "You cannot change deals or leads in Acme"
    )
    assert fake_slack.api_calls("views.open") == []

    body = ack_of(submit(sam_slack, form(**GOOD)))  # a form submitted all the same

    assert body["response_action"] == "errors"
    assert body["errors"]["first_name"].startswith("You cannot change deals or leads in Acme")
    assert not Lead.objects.exists()


def test_a_slack_user_the_hub_does_not_know_is_told_why(client, fake_slack, acme_install, worker):
    stranger = SlackUser(client, fake_slack, team_id=ACME_TEAM, user_id="USTRANGER")

    body = ack_of(submit(stranger, form(**GOOD)))

    assert body["response_action"] == "errors"
    assert body["errors"]["first_name"].startswith("The hub could not look you up in Slack")
    assert not Lead.objects.exists()


def test_an_outsiders_form_makes_a_lead_of_their_own_company(
    charlie_slack, charlie, globex, lead_alice, worker
):
    assert ack_of(submit(charlie_slack, form(**GOOD))) == {}

    lead = Lead.objects.get()
    assert (lead.company, lead.created_by) == (globex, charlie)
