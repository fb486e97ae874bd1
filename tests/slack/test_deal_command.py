"""``/deal``: every sub-command, its usage on a mistake, fuzzy stages and members, sharing, the
permission refusal and the outsider, through signed requests to the real view."""

# ruff: noqa: F811 (the fixtures imported from deal_fixtures are these tests' arguments)
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from hub.domain.crm.deal_selectors import company_today
from hub.domain.crm.models import Activity, DealStatus
from tests import factories
from tests.slack.conftest import ACME_TEAM, SlackUser
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
    refreshed,
    renewal,
    sam,
    sam_slack,
)

pytestmark = pytest.mark.django_db(transaction=True)


def answer(response, response_type: str = "ephemeral") -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["response_type"] == response_type
    return body


def deal_cmd(user, text: str):
    return user.command(text, command="/deal")


# -- help and usage ----------------------------------------------------------------------------


def test_help_lists_every_command_and_how_to_share(deal_alice):
    for text in ("", "help"):
        body = answer(deal_cmd(deal_alice, text))
        for sub in ("list", "show", "move", "won", "lost", "assign", "note", "new", "pipeline"):
            assert f"`/deal {sub}" in body["text"]
        assert "add `share`" in body["text"]


def test_each_command_explains_itself(deal_alice):
    assert answer(deal_cmd(deal_alice, "move help"))["text"].startswith("Usage: `/deal move ID")
    assert answer(deal_cmd(deal_alice, "help lost"))["text"].startswith("Usage: `/deal lost ID")
    assert answer(deal_cmd(deal_alice, "move"))["text"].startswith("Usage: `/deal move ID")
    assert answer(deal_cmd(deal_alice, "note 42"))["text"].startswith("Usage: `/deal note")


def test_an_unknown_command_suggests_the_closest(deal_alice):
    text = answer(deal_cmd(deal_alice, "shwo 42"))["text"]
    assert text.startswith("`/deal` has no command “shwo”. Did you mean `show`?")
    assert "<script>" not in answer(deal_cmd(deal_alice, "<script>"))["text"]


def test_odd_input_never_fails(deal_alice, renewal):
    for text in (
        "show \x00",
        "show 4\x002",
        "show " + "9" * 40,
        "show 99999999999999999",
        "move 42 " + "x" * 10_000,
        "x" * 10_000,
        "assign 1 <@U123|jane> extra",
        "list " + "é" * 500,
    ):
        body = answer(deal_cmd(deal_alice, text))
        assert body["text"]
        assert len(body["text"]) < 4000


# -- show --------------------------------------------------------------------------------------


def test_show_gives_the_card_with_its_buttons(deal_alice, renewal, acme):
    body = answer(deal_cmd(deal_alice, f"show {renewal.pk}"))

    text = blocks_text(body["blocks"])
    assert f"#{renewal.pk} Umbrella renewal" in text
    assert "$12,500 (weighted $3,125)" in text
    assert "Qualification · 25%" in text
    assert "Pat Roe" in text and "+14155550188" in text
    found = elements(body["blocks"])
    move = found[f"deal_move:{renewal.pk}"]
    names = [o["text"]["text"] for o in move["options"]]
    assert names == [
        "Prospecting (10%)",
        "Qualification (25%)",
        "Proposal (50%)",
        "Negotiation (75%)",
    ]
    assert move["initial_option"]["value"] == str(renewal.stage_id)
    assert "confirm" in found[f"deal_won:{renewal.pk}"]
    assert f"deal_lost:{renewal.pk}" in found
    assert found[f"deal_assign:{renewal.pk}"]["type"] == "users_select"
    assert found[f"call_pick:deal:{renewal.pk}"]["value"] == f"deal:{renewal.pk}"


def test_a_deal_is_named_by_number_hash_or_link(deal_alice, renewal, settings):
    settings.HUB_PUBLIC_URL = "https://hub.example"
    for ref in (
        f"#{renewal.pk}",
        f"https://hub.example/admin/crm/deal/{renewal.pk}/change/",
        f"<https://crm.example/deals/{renewal.pk}|Umbrella>",
    ):
        body = answer(deal_cmd(deal_alice, f"show {ref}"))
        assert body["text"].startswith(f"#{renewal.pk} Umbrella renewal"), ref
    body = answer(deal_cmd(deal_alice, f"show https://crm.example/leads/{renewal.pk}"))
    assert "is not a deal's number or link" in body["text"]


def test_share_posts_the_card_in_the_channel(deal_alice, renewal):
    body = answer(deal_cmd(deal_alice, f"show {renewal.pk} share"), "in_channel")
    assert body["text"].startswith(f"#{renewal.pk} ")


def test_an_unknown_deal_and_another_companys_deal_read_alike(deal_alice, globex_deal):
    missing = answer(deal_cmd(deal_alice, "show 987654"))["text"]
    assert missing == "No deal #987654 in Acme that you can see."
    other = answer(deal_cmd(deal_alice, f"show {globex_deal.pk}"))["text"]
    assert other == f"No deal #{globex_deal.pk} in Acme that you can see."


def test_a_member_without_the_permission_sees_a_card_without_buttons(sam_slack, sam, acme):
    mine = deal(acme, "Sam's deal", assigned_to=sam)
    theirs = deal(acme, "Not Sam's")

    body = answer(deal_cmd(sam_slack, f"show {mine.pk}"))
    assert not elements(body["blocks"])
    assert "No deal" in answer(deal_cmd(sam_slack, f"show {theirs.pk}"))["text"]


# -- list --------------------------------------------------------------------------------------


def test_list_shows_ten_with_the_total_and_next_10_answered_by_the_worker(
    deal_alice, acme, worker, fake_slack
):
    for n in range(12):
        deal(acme, f"Deal {n:02d}", value=Decimal(1000 + n))

    body = answer(deal_cmd(deal_alice, "list"))
    assert body["text"].startswith("*Open deals*: 1–10 of 12")
    rows = [e for e in elements(body["blocks"]) if e.startswith("deal_show:")]
    assert len(rows) == 10
    next_10 = elements(body["blocks"])["deal_page:10"]

    act(deal_alice, button("deal_page:10", next_10["value"]))
    assert not fake_slack.responses(deal_alice.last_key)  # the worker answers
    worker.drain()
    [page] = answered(fake_slack, deal_alice.last_key)
    assert page["replace_original"] is True
    assert page["text"].startswith("*Open deals*: 11–12 of 12")
    assert "deal_page:0" in elements(page["blocks"])

    # Below a list shared in the channel, the next page is the clicker's own, shown to them.
    act(deal_alice, button("deal_page:10", next_10["value"]), ephemeral=False)
    worker.drain()
    [page] = answered(fake_slack, deal_alice.last_key)
    assert (page["replace_original"], page["response_type"]) == (False, "ephemeral")


def test_list_by_stage_mine_and_closing_this_month(deal_alice, alice, acme):
    today = company_today(acme)
    deal(acme, "In proposal", "Proposal")
    deal(acme, "Alice's", assigned_to=alice)
    deal(acme, "Closing soon", expected_close_date=today)
    deal(acme, "Closing later", expected_close_date=today + timedelta(days=70))
    deal(acme, "Won already", "Proposal", status=DealStatus.WON)

    proposal = answer(deal_cmd(deal_alice, "list propsal"))["text"]
    assert proposal.startswith("*Open deals in Proposal* (1)") and "In proposal" in proposal
    mine = answer(deal_cmd(deal_alice, "list mine"))["text"]
    assert mine.startswith("*Your open deals* (1)") and "Alice's" in mine
    closing = answer(deal_cmd(deal_alice, "list closing this month"))["text"]
    assert "Closing soon" in closing and "Closing later" not in closing
    assert answer(deal_cmd(deal_alice, "list mine proposal"))["text"].endswith(": none.")


def test_list_offers_the_stages_when_one_is_unclear(deal_alice):
    text = answer(deal_cmd(deal_alice, "list pro"))["text"]
    assert text == "“pro” could be several stages. Did you mean Prospecting or Proposal?"
    text = answer(deal_cmd(deal_alice, "list zzz"))["text"]
    assert text.startswith("No stage “zzz” in Sales Pipeline. Its stages: Prospecting,")


# -- pipeline ----------------------------------------------------------------------------------


def test_pipeline_totals_each_stage_in_the_companys_currency(deal_alice, acme):
    deal(acme, "A", "Proposal", value=Decimal("10000"))
    deal(acme, "B", "Proposal", value=Decimal("2000"))
    deal(acme, "C", "Negotiation", value=Decimal("4000"))
    deal(acme, "D", "Negotiation", value=Decimal("5000"), currency="EUR")

    body = answer(deal_cmd(deal_alice, "pipeline"))
    text = body["text"]
    assert text.startswith("*Sales Pipeline*: 4 open deals")
    lines = {line.split("  ")[0].strip(): line.split() for line in text.splitlines()[1:]}
    assert lines["Proposal"][-3:] == ["2", "$12,000", "$6,000"]
    assert lines["Negotiation"][-3:] == ["2", "$4,000", "$3,000"]
    assert lines["All stages"][-3:] == ["4", "$16,000", "$9,000"]
    assert "Closed Won" not in lines  # no open deal there
    assert "Not summed in (other currencies): €5,000." in blocks_text(body["blocks"])
    assert answer(deal_cmd(deal_alice, "pipeline share"), "in_channel")


# -- changes -----------------------------------------------------------------------------------


def test_move_matches_a_misspelt_stage(deal_alice, renewal):
    body = answer(deal_cmd(deal_alice, f"move {renewal.pk} Propsal"))
    assert body["text"] == f"Moved #{renewal.pk} Umbrella renewal from Qualification to Proposal."
    assert refreshed(renewal).stage.name == "Proposal"
    assert refreshed(renewal).probability == 50
    assert "Proposal · 50%" in blocks_text(body["blocks"])


def test_move_asks_when_the_stage_is_unclear_and_changes_nothing(deal_alice, renewal):
    text = answer(deal_cmd(deal_alice, f"move {renewal.pk} pro"))["text"]
    assert text == "“pro” could be several stages. Did you mean Prospecting or Proposal?"
    assert refreshed(renewal).stage.name == "Qualification"


def test_move_to_a_closing_stage_points_to_won_and_lost(deal_alice, renewal):
    text = answer(deal_cmd(deal_alice, f"move {renewal.pk} closed won"))["text"]
    assert text.startswith("Closed Won is where won deals go: use `/deal won")
    assert refreshed(renewal).stage.name == "Qualification"


def test_a_closed_deal_is_not_moved(deal_alice, acme):
    won = deal(acme, "Done", "Closed Won", status=DealStatus.WON)
    text = answer(deal_cmd(deal_alice, f"move {won.pk} proposal"))["text"]
    assert "is closed (won)" in text and "reopen it in the CRM" in text
    assert refreshed(won).stage.name == "Closed Won"


def test_won_marks_the_deal_won_once(deal_alice, renewal):
    body = answer(deal_cmd(deal_alice, f"won {renewal.pk}"))
    assert body["text"] == f":tada: #{renewal.pk} Umbrella renewal is won: $12,500."
    done = refreshed(renewal)
    assert (done.status, done.stage.name) == (DealStatus.WON, "Closed Won")
    again = answer(deal_cmd(deal_alice, f"won {renewal.pk}"))["text"]
    assert again.endswith("is won already; nothing changed.")


def test_lost_with_a_reason_keeps_it(deal_alice, renewal):
    body = answer(deal_cmd(deal_alice, f"lost {renewal.pk} Went with a cheaper vendor &amp; co"))
    done = refreshed(renewal)
    assert (done.status, done.lost_reason) == (DealStatus.LOST, "Went with a cheaper vendor & co")
    assert "Went with a cheaper vendor &amp; co" in blocks_text(body["blocks"])


def test_assign_by_name_me_or_mention(
    deal_alice, deal_bob, bob, alice, renewal, worker, fake_slack
):
    body = answer(deal_cmd(deal_alice, f"assign {renewal.pk} bob"))
    assert body["text"] == f"#{renewal.pk} Umbrella renewal is now assigned to Bob Builder."
    assert refreshed(renewal).assigned_to == bob

    answer(deal_cmd(deal_alice, f"assign {renewal.pk} me"))
    assert refreshed(renewal).assigned_to == alice

    text = answer(deal_cmd(deal_alice, f"assign {renewal.pk} <@{BOB_SLACK}|bob>"))["text"]
    assert text == f"Assigning #{renewal.pk} Umbrella renewal to <@{BOB_SLACK}>…"
    worker.drain()
    [reply] = answered(fake_slack, deal_alice.last_key)
    assert reply["text"] == f"#{renewal.pk} Umbrella renewal is now assigned to Bob Builder."
    assert refreshed(renewal).assigned_to == bob


def test_assign_to_someone_unknown_or_unclear(deal_alice, renewal, acme, worker, fake_slack):
    for first in ("Dana", "Dara"):
        factories.CompanyUserFactory(company=acme, user__first_name=first, user__last_name="Zed")

    text = answer(deal_cmd(deal_alice, f"assign {renewal.pk} nobody-here"))["text"]
    assert text.startswith("No active member of Acme matches “nobody-here”.")
    text = answer(deal_cmd(deal_alice, f"assign {renewal.pk} zed"))["text"]
    assert text.startswith("“zed” could be several members. Did you mean Dana Zed or Dara Zed?")
    answer(deal_cmd(deal_alice, f"assign {renewal.pk} <@UNOBODY1>"))
    worker.drain()
    [reply] = answered(fake_slack, deal_alice.last_key)
    assert reply["text"].startswith("<@UNOBODY1> cannot be given deals")
    assert refreshed(renewal).assigned_to is None


def test_note_is_added_without_its_nul_and_a_huge_one_is_refused(deal_alice, renewal, alice):
    text = answer(deal_cmd(deal_alice, f"note {renewal.pk} Sent the quote\x00 today"))["text"]
    assert text == f"Note added to #{renewal.pk} Umbrella renewal."
    note = Activity.objects.get(deal=renewal)
    assert (note.description, note.user) == ("Sent the quote today", alice)

    text = answer(deal_cmd(deal_alice, f"note {renewal.pk} " + "x" * 10_001))["text"]
    assert text.startswith("The note was not added: A note may be at most 10,000 characters")
    assert Activity.objects.filter(deal=renewal).count() == 1


# -- who may --------------------------------------------------------------------------------


def test_a_member_without_can_manage_deals_changes_nothing(sam_slack, sam, acme, renewal):
    renewal.assigned_to = sam
    renewal.save()
    for text in (
        f"move {renewal.pk} proposal",
        f"won {renewal.pk}",
        f"lost {renewal.pk} no budget",
        f"assign {renewal.pk} me",
        f"note {renewal.pk} hello",
        "new",
    ):
        refusal = answer(deal_cmd(sam_slack, text))["text"]
        assert refusal.startswith("You cannot change deals or leads in Acme"), text
    after = refreshed(renewal)
    assert (after.stage.name, after.status, after.assigned_to) == ("Qualification", "open", sam)
    assert not Activity.objects.exists()


def test_an_outsider_cannot_see_or_change_acme_deals(charlie_slack, renewal, settings):
    settings.HUB_PUBLIC_URL = "https://hub.example"
    link = f"https://hub.example/admin/crm/deal/{renewal.pk}/change/"
    for text in (
        f"show {renewal.pk}",
        f"show {link}",
        f"move {link} proposal",
        f"won {renewal.pk}",
    ):
        assert answer(deal_cmd(charlie_slack, text))["text"] == (
            f"No deal #{renewal.pk} in Globex that you can see."
        ), text
    assert refreshed(renewal).status == DealStatus.OPEN
    assert refreshed(renewal).stage.name == "Qualification"


def test_someone_not_linked_to_a_member_is_told_why(client, fake_slack, acme_install, renewal):
    fake_slack.users["USTRANGER"] = "stranger@elsewhere.test"
    stranger = SlackUser(client, fake_slack, team_id=ACME_TEAM, user_id="USTRANGER")
    text = answer(deal_cmd(stranger, f"show {renewal.pk}"))["text"]
    assert text.startswith("Your Slack user is not linked to a hub user")


def test_a_bare_id_or_link_shows_the_card_and_nobody_unassigns_as_in_lead(
    deal_alice, deal_bob, bob, renewal, settings
):
    """``/deal 42`` and ``/deal <link|label>`` show the card, and ``assign 42 nobody``
    unassigns, as ``/lead`` does."""
    settings.HUB_PUBLIC_URL = "https://hub.example.com"
    body = answer(deal_cmd(deal_alice, f"{renewal.pk}"))
    assert f"#{renewal.pk} Umbrella renewal" in blocks_text(body["blocks"])
    link = f"<https://hub.example.com/admin/crm/deal/{renewal.pk}/change/|Umbrella renewal deal>"
    body = answer(deal_cmd(deal_alice, f"show {link}"))
    assert f"#{renewal.pk} Umbrella renewal" in blocks_text(body["blocks"])

    answer(deal_cmd(deal_alice, f"assign {renewal.pk} bob"))
    assert refreshed(renewal).assigned_to == bob
    answer(deal_cmd(deal_alice, f"assign {renewal.pk} nobody"))
    assert refreshed(renewal).assigned_to is None
