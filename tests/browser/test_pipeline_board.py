"""The pipeline board in a real browser: a deal moved anywhere moves on the open board, a
manager's drag moves the deal, and a drag the server refuses snaps back with the reason."""

from __future__ import annotations

from django.db import connection
from playwright.sync_api import expect

from hub.domain.authentication.models import CompanyUser
from hub.domain.crm.models import Deal, DealStage
from tests import factories
from tests.browser.helpers import BROWSER_MARKS, SECONDS, open_live, staff_member
from tests.console.helpers import stage

pytestmark = BROWSER_MARKS


def open_board(open_page, live_hub, user):
    return open_live(open_page, live_hub, user, "/console/deals/")


def column(page, stage_obj: DealStage):
    return page.locator(f'.column[data-stage-id="{stage_obj.id}"]')


def card(page, deal: Deal):
    return page.locator(f'.card[data-deal-id="{deal.id}"]')


def test_a_stage_changed_by_sql_moves_the_card_on_every_open_board(live_hub, open_page):
    acme = factories.CompanyFactory(company_name="Acme")
    manager = staff_member(acme)
    boss = factories.UserFactory(is_staff=True, is_superuser=True)
    deal = factories.DealFactory(company=acme, value="1500.00", title="Moved by psql")
    factories.DealFactory(company=acme, value="700.00", stage=stage(acme, "Proposal"))
    prospecting, proposal = stage(acme, "Prospecting"), stage(acme, "Proposal")
    boards = [open_board(open_page, live_hub, manager), open_board(open_page, live_hub, boss)]
    for page in boards:
        expect(card(page, deal)).to_have_attribute("data-stage-id", str(prospecting.id))
        expect(column(page, proposal).locator('[data-field="count"]')).to_have_text("1")

    with connection.cursor() as cursor:  # the CRM, or psql: the trigger writes deal.updated
        cursor.execute("UPDATE crm_deal SET stage_id = %s WHERE id = %s", [proposal.id, deal.id])

    for page in boards:
        moved = column(page, proposal).locator(f'.card[data-deal-id="{deal.id}"]')
        expect(moved).to_be_visible(timeout=10 * SECONDS)
        expect(column(page, proposal).locator('[data-field="count"]')).to_have_text("2")
        expect(column(page, proposal).locator('[data-field="total"]')).to_have_text("2,200.00 USD")
        expect(column(page, prospecting).locator('[data-field="count"]')).to_have_text("0")
        expect(column(page, prospecting).locator('[data-field="total"]')).to_have_text("—")

    # A deal created anywhere appears; one marked won leaves.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE crm_deal SET status = 'won' WHERE id = %s", [deal.id])
    created = factories.DealFactory(company=acme, value="9000.00", title="Brand new")
    for page in boards:
        expect(card(page, deal)).to_have_count(0, timeout=10 * SECONDS)
        expect(column(page, prospecting).locator(".card")).to_have_count(1, timeout=10 * SECONDS)
        expect(card(page, created).locator('[data-field="value"]')).to_have_text("9,000.00 USD")


def test_a_manager_drags_a_card_and_the_deal_moves(live_hub, open_page):
    acme = factories.CompanyFactory(company_name="Acme")
    manager = staff_member(acme)
    deal = factories.DealFactory(company=acme, title="Drag me")
    negotiation = stage(acme, "Negotiation")
    page = open_board(open_page, live_hub, manager)

    card(page, deal).drag_to(column(page, negotiation).locator(".cards"))

    expect(page.locator("#board-notice")).to_have_text(
        "Moved “Drag me” to Negotiation.", timeout=10 * SECONDS
    )
    expect(card(page, deal)).to_have_attribute("data-stage-id", str(negotiation.id))
    deal.refresh_from_db()
    assert deal.stage_id == negotiation.id
    assert deal.probability == negotiation.probability

    # The keyboard's way: the card's "Move to" list.
    qualification = stage(acme, "Qualification")
    card(page, deal).locator('select[data-field="move"]').select_option(str(qualification.id))
    expect(column(page, qualification).locator(f'.card[data-deal-id="{deal.id}"]')).to_be_visible(
        timeout=10 * SECONDS
    )
    expect(page.locator("#board-notice")).to_have_text("Moved “Drag me” to Qualification.")
    deal.refresh_from_db()
    assert deal.stage_id == qualification.id


def test_a_refused_drag_snaps_back_with_the_reason(live_hub, open_page):
    acme = factories.CompanyFactory(company_name="Acme")
    member = staff_member(acme)
    deal = factories.DealFactory(company=acme, title="Not yours to move", assigned_to=member)
    prospecting, proposal = stage(acme, "Prospecting"), stage(acme, "Proposal")
    page = open_board(open_page, live_hub, member)
    # Since the page was loaded, the membership lost the right to manage deals.
    CompanyUser.objects.filter(user=member, company=acme).update(can_manage_deals=False)

    card(page, deal).drag_to(column(page, proposal).locator(".cards"))

    notice = page.locator("#board-notice")
    expect(notice).to_contain_text("Could not move “Not yours to move”", timeout=10 * SECONDS)
    expect(notice).to_contain_text("does not include managing deals")
    expect(column(page, prospecting).locator(f'.card[data-deal-id="{deal.id}"]')).to_be_visible()
    expect(column(page, proposal).locator('[data-field="count"]')).to_have_text("0")
    deal.refresh_from_db()
    assert deal.stage_id == prospecting.id


def test_a_viewer_s_cards_do_not_move(live_hub, open_page):
    acme = factories.CompanyFactory(company_name="Acme")
    viewer = staff_member(acme, role="support_staff")  # no can_manage_deals
    deal = factories.DealFactory(company=acme, title="Look only", assigned_to=viewer)
    prospecting, proposal = stage(acme, "Prospecting"), stage(acme, "Proposal")
    page = open_board(open_page, live_hub, viewer)
    expect(page.locator("#board-readonly")).to_contain_text("does not include managing deals")
    expect(card(page, deal)).not_to_have_attribute("draggable", "true")
    expect(card(page, deal).locator("select")).to_have_count(0)

    card(page, deal).drag_to(column(page, proposal).locator(".cards"))

    expect(column(page, prospecting).locator(f'.card[data-deal-id="{deal.id}"]')).to_be_visible()
    expect(column(page, proposal).locator(".card")).to_have_count(0)
    deal.refresh_from_db()
    assert deal.stage_id == prospecting.id


def test_an_event_delivered_before_the_board_s_script_ran_is_not_lost(live_hub, open_page):
    acme = factories.CompanyFactory(company_name="Acme")
    manager = staff_member(acme)
    deal = factories.DealFactory(company=acme, title="Early mover")
    proposal = stage(acme, "Proposal")
    page = open_page(f"http://127.0.0.1:{live_hub.ports[0]}", manager)
    held = []
    # Hold the board's script back while console.js connects and hub.js delivers an event.
    page.route("**/hub/console/pipeline.js", lambda route: held.append(route))
    page.goto("/console/deals/", wait_until="commit")
    page.wait_for_function("window.hub && hub.status === 'live'", timeout=10 * SECONDS)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE crm_deal SET stage_id = %s WHERE id = %s", [proposal.id, deal.id])
    page.wait_for_function(
        "hub.lastId > JSON.parse(document.getElementById('hub-cursor').textContent)",
        timeout=10 * SECONDS,
    )
    assert len(held) == 1
    held[0].continue_()

    moved = column(page, proposal).locator(f'.card[data-deal-id="{deal.id}"]')
    expect(moved).to_be_visible(timeout=10 * SECONDS)
    expect(column(page, proposal).locator('[data-field="count"]')).to_have_text("1")
