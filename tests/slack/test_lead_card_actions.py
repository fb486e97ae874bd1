"""The lead card's buttons and selects, and the list's buttons: each click acked at once, checked
again (member, company, permission; ids in action values never trusted) and answered by an
actor through the click's response_url."""

# ruff: noqa: F811 (the fixtures imported from lead_fixtures are these tests' arguments)
from __future__ import annotations

import pytest

from hub.bots import lead_messages as msg
from hub.domain.calls.models import Call
from hub.domain.crm.models import Deal, LeadStatus
from tests import factories
from tests.slack.lead_fixtures import (  # noqa: F401 (fixtures)
    BOB_SLACK,
    act,
    block_text,
    bob_slack,
    button,
    charlie_slack,
    elements,
    globex_lead,
    jane,
    lead_alice,
    named_alice,
    named_bob,
    sam,
    sam_slack,
    static_select,
    users_select,
)

pytestmark = pytest.mark.django_db(transaction=True)


def clicked(user, action, worker, fake_slack, **kwargs) -> dict:
    """Click, let the actors run, and return the one answer posted to the response_url."""
    response = act(user, action, **kwargs)
    assert response.status_code == 200, response.content
    assert response.content in (b"", b"{}")  # acked at once; the answer comes after
    worker.drain()
    [reply] = fake_slack.responses(user.last_key)
    return reply


def card_of(user, lead) -> dict[str, dict]:
    body = user.command(f"show {lead.pk}", command="/lead").json()
    return elements(body["blocks"])


# -- status ------------------------------------------------------------------------------------


def test_the_status_select_sets_the_status_and_replaces_the_card(
    lead_alice, jane, worker, fake_slack
):
    select = card_of(lead_alice, jane)[f"lead_status:{jane.pk}"]
    assert select["type"] == "static_select"

    reply = clicked(lead_alice, static_select(select["action_id"], "qualified"), worker, fake_slack)

    jane.refresh_from_db()
    assert jane.status == LeadStatus.QUALIFIED
    assert reply["text"] == f"#{jane.pk} Jane Doe is now Qualified (was New)."
    assert reply["replace_original"] is True
    assert "*Status*\nQualified" in block_text(reply["blocks"])


def test_a_click_on_a_shared_card_refreshes_it_in_the_channel(lead_alice, jane, worker, fake_slack):
    reply = clicked(
        lead_alice,
        static_select(f"lead_status:{jane.pk}", "contacted"),
        worker,
        fake_slack,
        ephemeral=False,
    )
    assert (reply["replace_original"], reply["response_type"]) == (True, "in_channel")
    jane.refresh_from_db()
    assert jane.status == LeadStatus.CONTACTED


def test_a_refusal_on_a_shared_card_is_told_to_the_clicker_only(
    sam_slack, sam, jane, worker, fake_slack
):
    reply = clicked(
        sam_slack,
        static_select(f"lead_status:{jane.pk}", "contacted"),
        worker,
        fake_slack,
        ephemeral=False,
    )
    assert (reply["replace_original"], reply["response_type"]) == (False, "ephemeral")
    assert reply["text"].startswith("You cannot change deals or leads in Acme")


@pytest.mark.parametrize("value", ["converted", "bogus", ""])
def test_a_forged_status_changes_nothing(lead_alice, jane, worker, fake_slack, value):
    reply = clicked(lead_alice, static_select(f"lead_status:{jane.pk}", value), worker, fake_slack)

    assert reply["text"] == msg.FORGED
    assert reply["replace_original"] is False
    jane.refresh_from_db()
    assert jane.status == LeadStatus.NEW


# -- assign ------------------------------------------------------------------------------------


def test_the_users_select_assigns_the_member_the_slack_user_is(
    lead_alice, bob_slack, named_bob, jane, worker, fake_slack
):
    reply = clicked(
        lead_alice, users_select(f"lead_assign:{jane.pk}", BOB_SLACK), worker, fake_slack
    )

    jane.refresh_from_db()
    assert jane.assigned_to == named_bob
    assert reply["text"] == f"#{jane.pk} Jane Doe is now assigned to Bob Builder."
    assert reply["replace_original"] is True
    assert "*Assigned to*\nBob Builder" in block_text(reply["blocks"])


def test_a_slack_user_outside_the_company_is_not_assigned(
    lead_alice, charlie_slack, jane, worker, fake_slack
):
    reply = clicked(
        lead_alice, users_select(f"lead_assign:{jane.pk}", "UCHARLIE1"), worker, fake_slack
    )

    assert reply["text"].startswith("<@UCHARLIE1> cannot be given leads")
    jane.refresh_from_db()
    assert jane.assigned_to is None


def test_a_forged_slack_user_id_is_refused(lead_alice, jane, worker, fake_slack):
    reply = clicked(
        lead_alice, users_select(f"lead_assign:{jane.pk}", "<!channel>"), worker, fake_slack
    )
    assert reply["text"] == msg.FORGED


# -- convert -----------------------------------------------------------------------------------


def test_the_convert_button_makes_the_deal_and_shows_its_card(
    lead_alice, acme, jane, worker, fake_slack
):
    convert = card_of(lead_alice, jane)[f"lead_convert:{jane.pk}"]
    assert convert["confirm"]["confirm"]["text"] == "Convert"

    reply = clicked(lead_alice, button(convert["action_id"], convert["value"]), worker, fake_slack)

    deal = Deal.objects.get()
    assert (deal.company, deal.lead, deal.stage.name) == (acme, jane, "Prospecting")
    assert reply["text"] == f"#{jane.pk} Jane Doe is converted: deal #{deal.pk}, in Prospecting."
    assert f"#{deal.pk}" in block_text(reply["blocks"])
    assert reply["replace_original"] is True


def test_converting_from_a_stale_card_names_the_deal(lead_alice, jane, worker, fake_slack):
    clicked(lead_alice, button(f"lead_convert:{jane.pk}", str(jane.pk)), worker, fake_slack)
    deal = Deal.objects.get()

    reply = clicked(lead_alice, button(f"lead_convert:{jane.pk}", str(jane.pk)), worker, fake_slack)

    assert reply["text"].startswith(
        f"#{jane.pk} Jane Doe was converted already, to deal #{deal.pk}"
    )
    assert Deal.objects.count() == 1


def test_a_converted_leads_card_offers_no_status_or_convert(lead_alice, jane, worker, fake_slack):
    clicked(lead_alice, button(f"lead_convert:{jane.pk}", str(jane.pk)), worker, fake_slack)

    actions = card_of(lead_alice, jane)
    assert f"lead_status:{jane.pk}" not in actions
    assert f"lead_convert:{jane.pk}" not in actions
    assert f"lead_assign:{jane.pk}" in actions


# -- call, show, the list's pages and the console link ----------------------------------------


def test_the_call_button_places_the_call_through_call(
    lead_alice, alice_number, jane, worker, fake_slack, fake_twilio, twilio_settings
):
    call = card_of(lead_alice, jane)[f"call_pick:lead:{jane.pk}"]

    response = act(lead_alice, button(call["action_id"], call["value"]))
    assert response.status_code == 200
    worker.drain()

    placed = Call.objects.get()
    assert placed.to_number == "+14155550123"


def test_the_view_button_of_a_list_shows_the_card(lead_alice, jane, worker, fake_slack):
    body = lead_alice.command("list", command="/lead").json()
    view = elements(body["blocks"])[f"lead_show:{jane.pk}"]

    reply = clicked(lead_alice, button(view["action_id"], view["value"]), worker, fake_slack)

    assert reply["text"] == f"#{jane.pk} Jane Doe (Initech) · New"
    assert reply["replace_original"] is False  # the list stays
    assert f"lead_status:{jane.pk}" in elements(reply["blocks"])


def test_next_10_pages_through_an_actor(lead_alice, acme, worker, fake_slack):
    leads = [factories.LeadFactory(company=acme, first_name=f"P{n:02d}") for n in range(23)]
    body = lead_alice.command("list", command="/lead").json()
    nxt = elements(body["blocks"])["lead_page:10"]

    reply = clicked(lead_alice, button(nxt["action_id"], nxt["value"]), worker, fake_slack)

    assert reply["text"].splitlines()[0] == "*Open leads*: 11–20 of 23"
    assert reply["replace_original"] is True
    shown = [int(a.split(":")[1]) for a in elements(reply["blocks"]) if a.startswith("lead_show:")]
    assert shown == [lead.pk for lead in reversed(leads)][10:20]
    assert {a for a in elements(reply["blocks"]) if a.startswith("lead_page:")} == {
        "lead_page:0",
        "lead_page:20",
    }


@pytest.mark.parametrize(
    "value",
    [
        "",
        "[]",
        '{"status":"open","mine":false,"offset":10}',
        '{"status":null,"mine":0,"offset":10}',
        '{"status":null,"mine":false,"offset":-5}',
        '{"status":null,"mine":false,"offset":"10"}',
    ],
)
def test_a_forged_page_button_is_refused(lead_alice, worker, fake_slack, value):
    reply = clicked(lead_alice, button("lead_page:10", value), worker, fake_slack)
    assert reply["text"] == msg.FORGED


def test_the_console_link_button_is_acked(lead_alice, jane, worker):
    response = act(lead_alice, button(f"lead_open:{jane.pk}"))
    assert response.status_code == 200
    assert worker.queued() == 0


# -- who may click -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        lambda lead: static_select(f"lead_status:{lead.pk}", "qualified"),
        lambda lead: users_select(f"lead_assign:{lead.pk}", "USAM0001"),
        lambda lead: button(f"lead_convert:{lead.pk}", str(lead.pk)),
    ],
)
def test_a_member_without_deal_rights_is_refused_and_nothing_changes(
    sam_slack, sam, jane, worker, fake_slack, action
):
    jane.assigned_to = sam
    jane.save()

    reply = clicked(sam_slack, action(jane), worker, fake_slack)

    assert reply["text"].startswith("You cannot change deals or leads in Acme")
    assert reply["replace_original"] is False
    jane.refresh_from_db()
    assert (jane.status, jane.assigned_to) == (LeadStatus.NEW, sam)
    assert not Deal.objects.exists()


@pytest.mark.parametrize(
    "action",
    [
        lambda lead: static_select(f"lead_status:{lead.pk}", "qualified"),
        lambda lead: users_select(f"lead_assign:{lead.pk}", "UCHARLIE1"),
        lambda lead: button(f"lead_convert:{lead.pk}", str(lead.pk)),
        lambda lead: button(f"lead_show:{lead.pk}", str(lead.pk)),
    ],
)
def test_an_outsider_clicking_with_an_acme_lead_id_finds_nothing(
    charlie_slack, lead_alice, jane, worker, fake_slack, action
):
    reply = clicked(charlie_slack, action(jane), worker, fake_slack)

    assert reply["text"] == f"No lead #{jane.pk} in Globex that you can see."
    jane.refresh_from_db()
    assert (jane.status, jane.assigned_to) == (LeadStatus.NEW, None)
    assert not Deal.objects.exists()


def test_a_forged_lead_id_of_another_company_is_not_found(
    lead_alice, globex_lead, worker, fake_slack
):
    reply = clicked(
        lead_alice, static_select(f"lead_status:{globex_lead.pk}", "qualified"), worker, fake_slack
    )

    assert reply["text"] == f"No lead #{globex_lead.pk} in Acme that you can see."
    globex_lead.refresh_from_db()
    assert globex_lead.status == LeadStatus.NEW


@pytest.mark.parametrize("raw", ["abc", "", "99999999999999999999999", "7;drop", "٣"])
def test_a_malformed_id_in_an_action_is_refused(lead_alice, jane, worker, fake_slack, raw):
    reply = clicked(lead_alice, button(f"lead_convert:{raw}", raw), worker, fake_slack)
    assert reply["text"] in (msg.FORGED, f"No lead #{raw} in Acme that you can see.")
    assert not Deal.objects.exists()
