"""The operations page in a real browser: its figures follow the hub live."""

from __future__ import annotations

from playwright.sync_api import expect

from hub.domain.calls.services import call_create
from tests import factories
from tests.browser.helpers import BROWSER_MARKS, SECONDS, open_live, staff_member
from tests.live.conftest import client

pytestmark = BROWSER_MARKS


def test_the_ops_page_updates_live(spare_daphne, open_page):
    acme = factories.CompanyFactory(company_name="Acme Ops")
    member = staff_member(acme)
    root = factories.UserFactory(is_staff=True, is_superuser=True)
    server = spare_daphne(HUB_OPS_REFRESH_SECONDS="0.5", HUB_OPS_PRESENCE_SECONDS="0.5")
    page = open_live(open_page, server, root, "/console/ops/")
    feed = page.locator("#ops-feed")
    expect(feed).to_have_attribute("data-state", "live", timeout=10 * SECONDS)
    row = f'#ops-clients-table tr[data-company-id="{acme.id}"]'
    acme_count = page.locator(f'{row} [data-field="count"]')
    expect(acme_count).to_have_count(0)
    # The page's own connection: a superuser's, under "no single company".
    expect(page.locator('[data-figure="clients-total"]')).to_have_text("1", timeout=10 * SECONDS)

    # A second client, of Acme, connects to the same server: the page counts it.
    with client(server.url(), member.id):
        expect(acme_count).to_have_text("1", timeout=10 * SECONDS)
        expect(page.locator('[data-figure="clients-total"]')).to_have_text("2")
    # ... and it goes when the client does.
    expect(acme_count).to_have_count(0, timeout=10 * SECONDS)

    # Events written: the events chart and rate change.
    chart = page.locator("#ops-chart")
    charted = "[...document.querySelectorAll('#ops-chart rect')].length"
    total = (
        "document.getElementById('ops-chart').dataset.total.split(',').reduce((a, b) => a + +b, 0)"
    )
    before = page.evaluate(total)
    for n in range(3):
        call_create(
            company=acme,
            direction="Inbound",
            from_number="+14155550100",
            to_number="+14155550111",
            twilio_call_sid=f"CAops{n}",
        )
    page.wait_for_function(f"{total} >= {before + 3}", timeout=10 * SECONDS)
    expect(page.locator('[data-figure="events-per-second"]')).not_to_have_text("0.00")
    # Ten minutes in buckets of 10 s, one bar each (drawn by ops.js from the frames).
    assert page.evaluate(charted) == 60
    assert len(chart.get_attribute("data-total").split(",")) == 60
    # It fits 1280 px: no sideways scroll.
    assert page.viewport_size["width"] == 1280
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
