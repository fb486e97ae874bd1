"""The pipeline board (/console/deals/) and its move endpoint: who sees which deals, columns
with counts and totals, and moves through the same service and permission check as Slack."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from hub.domain.authentication.models import CompanyUser
from hub.domain.crm.models import Deal, DealStage, DealStatus
from hub.domain.crm.services import deal_mark_won
from tests import factories
from tests.console.helpers import json_data, stage
from tests.eventlog import logged_events

pytestmark = pytest.mark.django_db

BOARD = "/console/deals/"


def deal(company, **fields) -> Deal:
    if isinstance(fields.get("stage"), str):
        fields["stage"] = stage(company, fields["stage"])
    return factories.DealFactory(company=company, **fields)


def column_html(response, stage_obj: DealStage) -> str:
    html = response.content.decode()
    match = re.search(
        rf'<section class="column" data-stage-id="{stage_obj.id}".*?</section>', html, re.S
    )
    assert match, f"no column for {stage_obj.name}"
    return match.group(0)


def count_and_total(response, stage_obj: DealStage) -> tuple[str, str]:
    html = column_html(response, stage_obj)
    count = re.search(r'data-field="count"[^>]*>([^<]*)<', html)
    total = re.search(r'data-field="total"[^>]*>([^<]*)<', html)
    assert count and total
    return count.group(1), total.group(1)


def card_ids(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'class="card" data-deal-id="(\d+)"', html)}


def viewer_of(company):
    """A staff member of the company whose membership does not include managing deals."""
    membership = factories.CompanyUserFactory(company=company, can_manage_deals=False)
    user = membership.user
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def superuser():
    return factories.UserFactory(is_staff=True, is_superuser=True)


def post_move(client: Client, deal_id: int, stage_id: object):
    return client.post(f"/console/deals/{deal_id}/move/", {"stage": stage_id})


# -- the board ---------------------------------------------------------------------------------


def test_columns_are_the_stages_in_order_with_counts_and_totals_per_currency(alice_client, acme):
    deal(acme, stage="Proposal", value=Decimal("12000.00"), title="Big one")
    deal(acme, stage="Proposal", value=Decimal("500.50"))
    deal(acme, stage="Proposal", value=Decimal("800.00"), currency="EUR")
    deal(acme, stage="Negotiation", value=Decimal("1000.00"))

    response = alice_client.get(BOARD)

    assert response.status_code == 200
    html = response.content.decode()
    names = re.findall(r'<h2 id="stage-\d+">([^<]+)', html)
    assert names == [
        "Prospecting",
        "Qualification",
        "Proposal",
        "Negotiation",
        "Closed Won",
        "Closed Lost",
    ]
    assert count_and_total(response, stage(acme, "Proposal")) == (
        "3",
        "800.00 EUR · 12,500.50 USD",
    )
    assert count_and_total(response, stage(acme, "Negotiation")) == ("1", "1,000.00 USD")
    assert count_and_total(response, stage(acme, "Prospecting")) == ("0", "—")
    proposal = column_html(response, stage(acme, "Proposal")).split('<ol class="cards">')[1]
    # Largest first; the whole title on hover; a link to the admin's change page.
    assert proposal.index("12,000.00 USD") < proposal.index("800.00 EUR")
    big = Deal.objects.get(title="Big one")
    assert f'href="/admin/crm/deal/{big.id}/change/"' in proposal
    assert 'title="Big one"' in proposal


def test_won_and_lost_deals_leave_the_board_and_the_page_says_so(alice_client, acme, alice):
    open_deal = deal(acme, stage="Proposal")
    won = deal_mark_won(deal=deal(acme, stage="Proposal"), by=alice)
    lost = deal(acme, status=DealStatus.LOST)

    response = alice_client.get(BOARD)

    assert card_ids(response.content.decode()) == {open_deal.id}
    assert won.id != open_deal.id and lost.id != open_deal.id
    assert "Open deals only" in response.content.decode()
    # The closing stages show only while an open deal sits in them.
    assert " hidden" in column_html(response, stage(acme, "Closed Won")).split(">")[0]


def test_a_manager_sees_every_deal_of_the_company_and_no_other_company(alice_client, acme, globex):
    ours = {deal(acme).id, deal(acme, assigned_to=None).id}
    deal(globex)

    response = alice_client.get(BOARD)

    assert card_ids(response.content.decode()) == ours
    assert json_data(response, "board-config")["can_move"] is True


def test_a_member_who_may_not_manage_deals_sees_only_their_own_and_cannot_move(client, acme):
    member = viewer_of(acme)
    mine = deal(acme, assigned_to=member)
    deal(acme)
    client.force_login(member)

    response = client.get(BOARD)

    html = response.content.decode()
    assert card_ids(html) == {mine.id}
    config = json_data(response, "board-config")
    assert config["can_move"] is False
    assert config["only_user_id"] == member.id
    assert 'draggable="true"' not in html
    assert "does not include managing deals" in html


def test_a_superuser_sees_every_company_and_may_pick_a_pipeline_of_each(client, acme, globex):
    acme_deal, globex_deal = deal(acme), deal(globex)
    client.force_login(superuser())

    first = client.get(BOARD)
    assert card_ids(first.content.decode()) == {acme_deal.id}  # Acme's pipeline comes first
    assert "Sales Pipeline — Globex" in first.content.decode()

    pipeline = globex.pipelines.get(is_default=True)
    second = client.get(BOARD, {"pipeline": pipeline.id})
    assert card_ids(second.content.decode()) == {globex_deal.id}
    assert "Pipeline: Sales Pipeline · Globex" in second.content.decode()
    # Not a member: the cards are not draggable, and the page says why.
    assert json_data(second, "board-config")["can_move"] is False
    assert "not an active member of Globex" in second.content.decode()


def test_the_company_filter_picks_that_company_s_default_pipeline(client, acme, globex):
    deal(acme)
    globex_deal = deal(globex)
    client.force_login(superuser())

    response = client.get(BOARD, {"company": globex.id})
    assert card_ids(response.content.decode()) == {globex_deal.id}

    # The filter changed while the URL still names the other company's pipeline.
    acme_pipeline = acme.pipelines.get(is_default=True)
    moved = client.get(BOARD, {"company": globex.id, "pipeline": acme_pipeline.id})
    assert moved.status_code == 302
    assert moved.url == f"{BOARD}?company={globex.id}"


def test_a_pipeline_of_another_tenant_is_never_shown(client, acme, globex, staff_charlie):
    deal(acme, title="Acme secret")
    client.force_login(staff_charlie)

    response = client.get(BOARD, {"pipeline": acme.pipelines.get(is_default=True).id})

    html = response.content.decode()
    assert "Acme secret" not in html
    assert "No pipeline of yours has the id" in html
    assert json_data(response, "board-config")["pipeline_id"] == globex.pipelines.get().id


def test_a_staff_user_of_no_company_is_told_so(client):
    client.force_login(factories.UserFactory(is_staff=True))

    response = client.get(BOARD)

    assert "you are not an active member of any company" in response.content.decode()


def test_anonymous_visitors_go_to_the_login_and_nothing_moves(client, acme):
    target = deal(acme)
    assert client.get(BOARD).url.startswith("/admin/login/")
    response = post_move(client, target.id, stage(acme, "Proposal").id)
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.stage.name == "Prospecting"


# -- moving a deal -----------------------------------------------------------------------------


def test_a_manager_moves_a_deal_and_the_event_is_written(alice_client, acme):
    target = deal(acme, stage="Qualification")
    proposal = stage(acme, "Proposal")
    last = logged_events().order_by("-id").values_list("id", flat=True).first() or 0

    response = post_move(alice_client, target.id, proposal.id)

    assert response.status_code == 200
    answer = response.json()
    assert answer["deal"]["stage_id"] == proposal.id
    assert answer["stage"] == "Proposal"
    target.refresh_from_db()
    assert target.stage_id == proposal.id
    assert target.probability == proposal.probability
    event = logged_events().get(id__gt=last, type="deal.updated")
    assert event.payload["stage_id"] == proposal.id
    assert event.payload["changed"] == ["stage_id"]


def test_moving_to_the_stage_it_is_in_changes_nothing(alice_client, acme):
    target = deal(acme, stage="Proposal")
    last = logged_events().order_by("-id").values_list("id", flat=True).first() or 0

    response = post_move(alice_client, target.id, target.stage_id)

    assert response.status_code == 200
    assert not logged_events().filter(id__gt=last).exists()


def test_a_member_who_may_not_manage_deals_is_refused_with_the_reason(client, acme):
    member = viewer_of(acme)
    target = deal(acme, assigned_to=member)
    client.force_login(member)

    response = post_move(client, target.id, stage(acme, "Proposal").id)

    assert response.status_code == 403
    assert "does not include managing deals" in response.json()["error"]
    target.refresh_from_db()
    assert target.stage.name == "Prospecting"


def test_a_superuser_who_is_not_a_member_is_refused(client, acme):
    target = deal(acme)
    client.force_login(superuser())

    response = post_move(client, target.id, stage(acme, "Proposal").id)

    assert response.status_code == 403
    assert "not an active member of Acme" in response.json()["error"]
    target.refresh_from_db()
    assert target.stage.name == "Prospecting"


def test_a_deal_of_another_company_is_not_found_and_not_moved(client, globex, staff_charlie, acme):
    target = deal(acme)
    client.force_login(staff_charlie)

    response = post_move(client, target.id, stage(acme, "Proposal").id)

    assert response.status_code == 404
    target.refresh_from_db()
    assert target.stage.name == "Prospecting"


def test_a_deal_not_assigned_to_a_member_who_may_not_manage_is_not_found(client, acme):
    member = viewer_of(acme)
    target = deal(acme)
    client.force_login(member)

    assert post_move(client, target.id, stage(acme, "Proposal").id).status_code == 404


def test_a_stage_of_another_pipeline_is_refused(alice_client, acme, globex):
    target = deal(acme)
    theirs = stage(globex, "Proposal")

    response = post_move(alice_client, target.id, theirs.id)

    assert response.status_code == 400
    assert "has no active stage" in response.json()["error"]
    target.refresh_from_db()
    assert target.stage.name == "Prospecting"


def test_a_closing_stage_is_refused_as_slack_refuses_it(alice_client, acme):
    target = deal(acme)

    response = post_move(alice_client, target.id, stage(acme, "Closed Won").id)

    assert response.status_code == 400
    assert "mark the deal won or lost" in response.json()["error"]


def test_a_closed_deal_does_not_move(alice_client, acme, alice):
    target = deal_mark_won(deal=deal(acme), by=alice)

    response = post_move(alice_client, target.id, stage(acme, "Proposal").id)

    assert response.status_code == 409
    assert "won" in response.json()["error"]


@pytest.mark.parametrize("posted", ["", "abc", "-3", "1.5", "99999999999", "٣"])
def test_bad_input_is_a_400(alice_client, acme, posted):
    target = deal(acme)

    response = post_move(alice_client, target.id, posted)

    assert response.status_code == 400
    assert response.json()["error"]


def test_an_id_beyond_the_database_s_integers_is_not_found(alice_client, acme):
    response = post_move(alice_client, 2**40, stage(acme, "Proposal").id)
    assert response.status_code == 404


def test_get_is_not_allowed(alice_client, acme):
    target = deal(acme)
    assert alice_client.get(f"/console/deals/{target.id}/move/").status_code == 405


def test_a_post_without_the_csrf_token_is_refused(staff_alice, acme):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_alice)
    target = deal(acme)

    response = post_move(client, target.id, stage(acme, "Proposal").id)

    assert response.status_code == 403
    target.refresh_from_db()
    assert target.stage.name == "Prospecting"


def test_the_csrf_token_of_the_page_lets_the_move_through(staff_alice, acme):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_alice)
    target = deal(acme)
    token = json_data(client.get(BOARD), "board-config")["csrf_token"]

    response = client.post(
        f"/console/deals/{target.id}/move/",
        {"stage": stage(acme, "Proposal").id},
        HTTP_X_CSRFTOKEN=token,
    )

    assert response.status_code == 200
    target.refresh_from_db()
    assert target.stage.name == "Proposal"


def test_a_membership_made_inactive_stops_the_moves(alice_client, acme, staff_alice):
    target = deal(acme)
    CompanyUser.objects.filter(user=staff_alice, company=acme).update(is_active=False)

    response = post_move(alice_client, target.id, stage(acme, "Proposal").id)

    assert response.status_code == 404


def test_the_won_and_lost_links_open_the_admin_s_filtered_list(client, acme):
    won = deal(acme, status=DealStatus.WON, title="Won already")
    client.force_login(superuser())
    html = client.get(BOARD).content.decode()
    link = re.search(r'<a href="([^"]+)">won</a>', html)
    assert link

    response = client.get(link.group(1).replace("&amp;", "&"))

    assert response.status_code == 200
    assert won.title in response.content.decode()
