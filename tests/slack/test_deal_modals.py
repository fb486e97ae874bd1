"""The ``/deal`` modals: "New deal" (opened by ``/deal new``) and "Mark deal lost" (the card's
Lost button, or ``/deal lost ID`` without a reason): what they offer, their inline errors, and
what their submission changes and says."""

# ruff: noqa: F811 (the fixtures imported from deal_fixtures are these tests' arguments)
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from hub.domain.crm.models import Deal, DealStatus
from tests.slack.deal_fixtures import (  # noqa: F401 (fixtures)
    BOB_SLACK,
    act,
    answered,
    blocks_text,
    button,
    charlie_slack,
    deal,
    deal_alice,
    deal_bob,
    elements,
    globex_deal,
    new_deal_values,
    opened_view,
    refreshed,
    renewal,
    sam,
    sam_slack,
    stages,
    submit,
    text_value,
)

pytestmark = pytest.mark.django_db(transaction=True)

GOOD = {
    "title": "Initech expansion",
    "value": "48,000.50",
    "currency": "usd",
    "company_name": "Initech",
    "contact_name": "Bill Lumbergh",
    "contact_email": "bill@initech.test",
    "contact_phone": "+1 415 555 0142",
    "close": "2030-09-30",
}


def errors(response) -> dict[str, str]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["response_action"] == "errors"
    return body["errors"]


def closed(response) -> None:
    """The submission was taken: Slack closes the modal on an empty 200."""
    assert response.status_code == 200, response.content
    assert response.content == b""


def open_new(user, fake_slack) -> dict:
    response = user.command("new", command="/deal")
    assert response.status_code == 200
    assert response.content == b""  # the form speaks for itself
    return opened_view(fake_slack)


# -- new deal ----------------------------------------------------------------------------------


def test_new_opens_a_form_with_the_pipelines_stages_and_the_companys_currency(
    deal_alice, acme, fake_slack
):
    deal(acme, "In euros", currency="EUR")
    deal(acme, "Also euros", currency="EUR")

    view = open_new(deal_alice, fake_slack)

    [call] = fake_slack.api_calls("views.open")
    assert call.body["trigger_id"] == f"{deal_alice.sent}.123.abc"
    assert view["callback_id"] == "deal_new"
    by_block = {b["block_id"]: b for b in view["blocks"]}
    assert by_block["currency"]["element"]["initial_value"] == "EUR"
    options = [o["text"]["text"] for o in by_block["stage"]["element"]["options"]]
    assert options == [
        "Prospecting (10%)",
        "Qualification (25%)",
        "Proposal (50%)",
        "Negotiation (75%)",
    ]
    assert by_block["assignee"]["element"]["initial_user"] == deal_alice.user_id
    assert by_block["close"]["element"]["type"] == "datepicker"


def test_a_valid_form_creates_the_deal_and_the_worker_shows_its_card(
    deal_alice, deal_bob, alice, bob, acme, worker, fake_slack
):
    view = open_new(deal_alice, fake_slack)
    command_key = deal_alice.last_key
    proposal = stages(acme)["Proposal"]

    closed(submit(deal_alice, view, new_deal_values(proposal, assignee=BOB_SLACK, **GOOD)))

    created = Deal.objects.get(title="Initech expansion")
    assert (created.company, created.created_by, created.assigned_to) == (acme, alice, bob)
    assert (created.value, created.currency, created.stage) == (
        Decimal("48000.50"),
        "USD",
        proposal,
    )
    assert created.expected_close_date == date(2030, 9, 30)
    assert created.contact_phone == "+1 415 555 0142"
    worker.drain()
    [card] = answered(fake_slack, command_key)
    assert card["text"] == f"Alice Archer created #{created.pk} Initech expansion."
    assert f"deal_won:{created.pk}" in elements(card["blocks"])


def test_mistakes_are_shown_beside_their_fields(deal_alice, acme, fake_slack):
    view = open_new(deal_alice, fake_slack)
    bad = dict(GOOD, value="lots", currency="dollars", contact_email="not-an-email", title="")

    found = errors(submit(deal_alice, view, new_deal_values(stages(acme)["Proposal"], **bad)))

    assert found == {
        "title": "Fill this in.",
        "value": "A value is a number like 12500 or 12500.50, at least 0.",
        "currency": "A currency is a three-letter code such as USD, EUR or GBP.",
    }
    found = errors(
        submit(
            deal_alice,
            view,
            new_deal_values(stages(acme)["Proposal"], **dict(GOOD, contact_email="not-an-email")),
        )
    )
    assert list(found) == ["contact_email"]  # deal_create's ValidationError, inline
    assert not Deal.objects.exists()


def test_huge_values_nul_bytes_and_forged_stages_are_refused_inline(
    deal_alice, acme, globex, fake_slack
):
    view = open_new(deal_alice, fake_slack)
    won_stage = stages(acme)["Closed Won"]
    for stage, fields, block in (
        (stages(acme)["Proposal"], dict(GOOD, value="1e999999"), "value"),
        (stages(acme)["Proposal"], dict(GOOD, value="-5"), "value"),
        (stages(globex)["Proposal"], GOOD, "stage"),
        (won_stage, GOOD, "stage"),
        (None, GOOD, "stage"),
        (stages(acme)["Proposal"], dict(GOOD, title="x" * 300), "title"),
    ):
        assert block in errors(submit(deal_alice, view, new_deal_values(stage, **fields)))
    closed(
        submit(
            deal_alice,
            view,
            new_deal_values(stages(acme)["Proposal"], **dict(GOOD, title="Nul\x00 title")),
        )
    )
    assert Deal.objects.get().title == "Nul title"


def test_an_assignee_slack_does_not_know_is_an_inline_error(deal_alice, acme, fake_slack):
    view = open_new(deal_alice, fake_slack)
    values = new_deal_values(stages(acme)["Proposal"], assignee="UNOBODY99", **GOOD)
    assert errors(submit(deal_alice, view, values)) == {
        "assignee": "The hub found no active member of your company with this person's e-mail."
    }
    assert not Deal.objects.exists()


def test_a_member_without_the_permission_gets_no_form_and_cannot_submit_one(
    sam_slack, deal_alice, acme, fake_slack
):
    text = sam_slack.command("new", command="/deal").json()["text"]
    assert text.startswith("You cannot change deals or leads in Acme")
    assert not fake_slack.api_calls("views.open")

    view = open_new(deal_alice, fake_slack)  # a form opened by someone who may
    found = errors(submit(sam_slack, view, new_deal_values(stages(acme)["Proposal"], **GOOD)))
    assert found["title"].startswith("You cannot change deals or leads in Acme")
    assert not Deal.objects.exists()


def test_slack_refusing_to_open_the_form_is_said(deal_alice, fake_slack):
    fake_slack.queue("views.open", error="expired_trigger_id")
    text = deal_alice.command("new", command="/deal").json()["text"]
    assert text.startswith("Slack did not open the form")


# -- lost --------------------------------------------------------------------------------------


def test_the_lost_form_needs_a_reason_then_loses_the_deal_and_refreshes_the_card(
    deal_alice, renewal, worker, fake_slack
):
    act(deal_alice, button(f"deal_lost:{renewal.pk}"))
    card_key = deal_alice.last_key
    view = opened_view(fake_slack)

    found = errors(submit(deal_alice, view, {"reason": text_value("  ")}))
    assert found == {"reason": "Say why the deal was lost."}
    found = errors(submit(deal_alice, view, {"reason": text_value("x" * 2001)}))
    assert found["reason"].startswith("Keep the reason under 2,000 characters")
    assert refreshed(renewal).status == DealStatus.OPEN

    closed(submit(deal_alice, view, {"reason": text_value("No budget\x00 this year")}))
    lost = refreshed(renewal)
    assert (lost.status, lost.lost_reason, lost.stage.name) == (
        "lost",
        "No budget this year",
        "Closed Lost",
    )
    worker.drain()
    [card] = answered(fake_slack, card_key)
    assert card["replace_original"] is True
    assert card["text"].startswith(f"#{renewal.pk} Umbrella renewal is marked lost: No budget")
    assert "*Lost because*\nNo budget this year" in blocks_text(card["blocks"])


def test_lost_without_a_reason_opens_the_form_and_answers_below_the_command(
    deal_alice, renewal, worker, fake_slack
):
    response = deal_alice.command(f"lost {renewal.pk}", command="/deal")
    assert response.content == b""
    command_key = deal_alice.last_key

    closed(submit(deal_alice, opened_view(fake_slack), {"reason": text_value("Timing")}))
    worker.drain()
    [card] = answered(fake_slack, command_key)
    assert card["replace_original"] is False
    assert refreshed(renewal).lost_reason == "Timing"


def test_a_lost_form_for_a_deal_closed_meanwhile_says_so(deal_alice, renewal, fake_slack):
    act(deal_alice, button(f"deal_lost:{renewal.pk}"))
    view = opened_view(fake_slack)
    deal_alice.command(f"won {renewal.pk}", command="/deal")

    found = errors(submit(deal_alice, view, {"reason": text_value("Too late")}))
    assert "is closed (won)" in found["reason"]
    assert refreshed(renewal).status == DealStatus.WON


def test_a_lost_form_forged_to_another_companys_deal_finds_nothing(
    deal_alice, renewal, globex_deal, fake_slack
):
    act(deal_alice, button(f"deal_lost:{renewal.pk}"))
    view = opened_view(fake_slack)
    view["private_metadata"] = view["private_metadata"].replace(
        f'"deal":{renewal.pk}', f'"deal":{globex_deal.pk}'
    )
    found = errors(submit(deal_alice, view, {"reason": text_value("Forged")}))
    assert found == {"reason": f"No deal #{globex_deal.pk} in Acme that you can see."}
    assert refreshed(globex_deal).status == DealStatus.OPEN


def test_an_outsider_submitting_an_acme_lost_form_changes_nothing(
    deal_alice, charlie_slack, renewal, fake_slack
):
    act(deal_alice, button(f"deal_lost:{renewal.pk}"))
    found = errors(submit(charlie_slack, opened_view(fake_slack), {"reason": text_value("Mine")}))
    assert found == {"reason": f"No deal #{renewal.pk} in Globex that you can see."}
    assert refreshed(renewal).status == DealStatus.OPEN
