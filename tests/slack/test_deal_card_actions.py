"""The deal card's buttons and selects: each click is checked again (member, company,
permission), changes the deal and refreshes the card through the response URL, or is refused
below it, and a forged id is "not found"."""

# ruff: noqa: F811 (the fixtures imported from deal_fixtures are these tests' arguments)
from __future__ import annotations

import pytest

from hub.bots.calls import PICK_ACTION
from hub.domain.crm.models import DealStatus
from hub.workers.slack_crm import slack_deal_assign
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
    opened_view,
    refreshed,
    renewal,
    sam,
    sam_slack,
    stages,
    static_select,
    users_select,
)

pytestmark = pytest.mark.django_db(transaction=True)


def acked(response) -> None:
    assert response.status_code == 200, response.content


def reply(worker, fake_slack, user) -> dict:
    """The one answer to the user's last click, posted by the worker."""
    worker.drain()
    [answer] = answered(fake_slack, user.last_key)
    return answer


def test_the_stage_select_moves_the_deal_and_refreshes_the_card(
    deal_alice, renewal, acme, worker, fake_slack
):
    proposal = stages(acme)["Proposal"]
    acked(act(deal_alice, static_select(f"deal_move:{renewal.pk}", str(proposal.pk))))

    answer = reply(worker, fake_slack, deal_alice)
    assert answer["replace_original"] is True
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == (
        f"Moved #{renewal.pk} Umbrella renewal from Qualification to Proposal."
    )
    move = elements(answer["blocks"])[f"deal_move:{renewal.pk}"]
    assert move["initial_option"]["value"] == str(proposal.pk)
    assert refreshed(renewal).stage == proposal


def test_a_card_shared_in_the_channel_is_refreshed_there(
    deal_alice, renewal, acme, worker, fake_slack
):
    proposal = stages(acme)["Proposal"]
    act(deal_alice, static_select(f"deal_move:{renewal.pk}", str(proposal.pk)), ephemeral=False)
    answer = reply(worker, fake_slack, deal_alice)
    assert (answer["replace_original"], answer["response_type"]) == (True, "in_channel")


def test_won_button_marks_the_deal_won(deal_alice, renewal, worker, fake_slack):
    act(deal_alice, button(f"deal_won:{renewal.pk}", str(renewal.pk)))
    answer = reply(worker, fake_slack, deal_alice)
    assert answer["text"].startswith(f":tada: #{renewal.pk} Umbrella renewal is won")
    assert refreshed(renewal).status == DealStatus.WON
    # A won deal's card has no stage select, Won or Lost any more.
    assert f"deal_move:{renewal.pk}" not in elements(answer["blocks"])
    assert f"deal_won:{renewal.pk}" not in elements(answer["blocks"])


def test_lost_button_opens_the_reason_form(deal_alice, renewal, fake_slack):
    acked(act(deal_alice, button(f"deal_lost:{renewal.pk}", str(renewal.pk))))

    view = opened_view(fake_slack)
    [opened] = fake_slack.api_calls("views.open")
    assert opened.body["trigger_id"] == f"{deal_alice.sent}.789.ghi"
    assert view["callback_id"] == "deal_lost"
    assert f"#{renewal.pk} Umbrella renewal" in blocks_text(view["blocks"])
    assert refreshed(renewal).status == DealStatus.OPEN  # only the form's submission loses it


def test_the_user_picker_assigns_through_the_worker(
    deal_alice, deal_bob, bob, renewal, worker, fake_slack
):
    acked(act(deal_alice, users_select(f"deal_assign:{renewal.pk}", BOB_SLACK)))
    assert refreshed(renewal).assigned_to is None  # a Slack look-up: the worker does it

    answer = reply(worker, fake_slack, deal_alice)
    assert answer["replace_original"] is True
    assert answer["text"] == f"#{renewal.pk} Umbrella renewal is now assigned to Bob Builder."
    assert refreshed(renewal).assigned_to == bob


def test_an_assignment_delivered_twice_is_done_once(
    deal_alice, alice, deal_bob, bob, renewal, acme_install, worker, fake_slack
):
    job = {
        "installation_id": acme_install.pk,
        "user_id": alice.pk,
        "deal_id": renewal.pk,
        "assignee_slack_user_id": BOB_SLACK,
        "response_url": fake_slack.response_url("twice"),
    }
    slack_deal_assign.send(**job)
    slack_deal_assign.send(**job)
    worker.drain()

    # The worker's two threads take both at once; the deal's row lock lets one assign.
    texts = sorted(answer["text"] for answer in answered(fake_slack, "twice", 2))
    assert texts == [
        f"#{renewal.pk} Umbrella renewal is assigned to Bob Builder already; nothing changed.",
        f"#{renewal.pk} Umbrella renewal is now assigned to Bob Builder.",
    ]
    assert refreshed(renewal).assigned_to == bob


def test_view_from_a_list_shows_the_card_below_it(deal_alice, renewal, worker, fake_slack):
    act(deal_alice, button(f"deal_show:{renewal.pk}", str(renewal.pk)))
    answer = reply(worker, fake_slack, deal_alice)
    assert answer["replace_original"] is False
    assert answer["text"].startswith(f"#{renewal.pk} Umbrella renewal")
    assert f"deal_won:{renewal.pk}" in elements(answer["blocks"])


def test_a_member_without_the_permission_is_refused_and_nothing_changes(
    sam_slack, sam, acme, renewal, worker, fake_slack
):
    renewal.assigned_to = sam
    renewal.save()
    proposal = stages(acme)["Proposal"]
    for action in (
        static_select(f"deal_move:{renewal.pk}", str(proposal.pk)),
        button(f"deal_won:{renewal.pk}"),
        button(f"deal_lost:{renewal.pk}"),
        users_select(f"deal_assign:{renewal.pk}", "UALICE01"),
    ):
        act(sam_slack, action)
        answer = reply(worker, fake_slack, sam_slack)
        assert answer["replace_original"] is False
        assert answer["text"].startswith("You cannot change deals or leads in Acme")
    after = refreshed(renewal)
    assert (after.stage.name, after.status, after.assigned_to) == ("Qualification", "open", sam)
    assert not fake_slack.api_calls("views.open")


def test_a_forged_id_of_another_companys_deal_is_not_found(
    deal_alice, globex_deal, globex, worker, fake_slack
):
    for action in (
        button(f"deal_won:{globex_deal.pk}", str(globex_deal.pk)),
        button(f"deal_lost:{globex_deal.pk}"),
        static_select(f"deal_move:{globex_deal.pk}", str(stages(globex)["Negotiation"].pk)),
        users_select(f"deal_assign:{globex_deal.pk}", "UALICE01"),
        button(f"deal_show:{globex_deal.pk}"),
    ):
        act(deal_alice, action)
        answer = reply(worker, fake_slack, deal_alice)
        assert answer["text"] == f"No deal #{globex_deal.pk} in Acme that you can see."
    after = refreshed(globex_deal)
    assert (after.stage.name, after.status, after.assigned_to) == ("Proposal", "open", None)
    assert not fake_slack.api_calls("views.open")


def test_a_stage_of_another_pipeline_is_refused(deal_alice, renewal, globex, worker, fake_slack):
    act(deal_alice, static_select(f"deal_move:{renewal.pk}", str(stages(globex)["Proposal"].pk)))
    answer = reply(worker, fake_slack, deal_alice)
    assert answer["text"].startswith("That button no longer matches a deal you can see")
    assert refreshed(renewal).stage.name == "Qualification"


def test_an_outsiders_click_on_an_acme_card_finds_nothing(
    charlie_slack, renewal, acme, worker, fake_slack
):
    act(charlie_slack, button(f"deal_won:{renewal.pk}"))
    answer = reply(worker, fake_slack, charlie_slack)
    assert answer["text"] == f"No deal #{renewal.pk} in Globex that you can see."
    assert refreshed(renewal).status == DealStatus.OPEN


def test_a_malformed_page_button_is_refused(deal_alice, worker, fake_slack):
    act(deal_alice, button("deal_page:10", '{"stage": "1; drop", "offset": 10}'))
    answer = reply(worker, fake_slack, deal_alice)
    assert answer["text"].startswith("That button no longer matches")


def test_the_call_button_is_the_call_commands(deal_alice, renewal):
    body = deal_alice.command(f"show {renewal.pk}", command="/deal").json()
    call = elements(body["blocks"])[f"{PICK_ACTION}:deal:{renewal.pk}"]
    assert call["value"] == f"deal:{renewal.pk}"


def test_a_closed_deal_is_not_moved_from_a_stale_card(deal_alice, acme, worker, fake_slack):
    lost = deal(acme, "Gone", "Closed Lost", status=DealStatus.LOST)
    act(deal_alice, static_select(f"deal_move:{lost.pk}", str(stages(acme)["Proposal"].pk)))
    answer = reply(worker, fake_slack, deal_alice)
    assert "is closed (lost)" in answer["text"]
    assert refreshed(lost).stage.name == "Closed Lost"
