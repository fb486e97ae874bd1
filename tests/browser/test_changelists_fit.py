"""The admin's main lists fit a 1280 × 800 screen in Chromium, for a superuser and for staff.

No sideways scroll, neither of the page nor of the table, on the demo data (two companies,
deal titles of a line and more); every cell the stylesheet cuts has the whole text in its
``title``.
"""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from hub.domain.authentication.models import User
from hub.domain.crm.models import Deal
from hub.integrations.twilio.inbox import callback_store
from hub.ops.demo.data import NORTHWIND
from hub.ops.demo.seed import demo_seed
from tests.browser.helpers import BROWSER_MARKS

pytestmark = BROWSER_MARKS

VIEWPORT = {"width": 1280, "height": 800}
MAIN_LISTS = [
    "calls/call",
    "crm/lead",
    "crm/deal",
    "authentication/customer",
    "emails/email",
    "notifications/notification",
]
LONG_TITLE = (
    "Enterprise rollout of the complete analytics platform for every regional office, "
    "subsidiary and franchise partner"
)
MEASURE = """() => {
    const results = document.querySelector('#changelist .results');
    const table = document.querySelector('#result_list');
    const cut = [...document.querySelectorAll('#result_list .hub-clip')]
        .filter(el => el.scrollWidth > el.clientWidth)
        .map(el => ({text: el.textContent, title: el.getAttribute('title') || ''}));
    const heads = [...document.querySelectorAll('#result_list thead th')]
        .map(th => th.textContent.trim().toLowerCase());
    return {
        results: [results.scrollWidth, results.clientWidth],
        table: [table.scrollWidth, table.clientWidth],
        page: document.documentElement.scrollWidth,
        rows: document.querySelectorAll('#result_list tbody tr').length,
        cut, heads,
    };
}"""


@pytest.fixture
def demo(settings):
    settings.EMAIL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    demo_seed()
    deal = Deal.objects.filter(company__company_name=NORTHWIND.name).order_by("pk").first()
    Deal.objects.filter(pk=deal.pk).update(title=LONG_TITLE)
    for index in range(3):
        sid = f"CA{index}" + "f" * 31
        callback_store(
            kind="status",
            params={"CallSid": sid, "CallStatus": "ringing", "SequenceNumber": "0"},
            call_sid=sid,
            sequence_number=0,
        )
    superuser = User.objects.get(is_superuser=True)
    ceo = User.objects.get(email__iexact=NORTHWIND.member_email(NORTHWIND.members[0]))
    return {"superuser": superuser, "staff": ceo}


def measure(page, path: str) -> dict:
    response = page.goto(f"/admin/{path}/")
    assert response is not None and response.status == 200, path
    return page.evaluate(MEASURE)


def assert_fits(found: dict, path: str) -> None:
    assert found["rows"] > 0, f"{path}: no rows to measure"
    scroll, client = found["results"]
    assert scroll <= client, f"{path}: the list scrolls sideways ({scroll} > {client} px)"
    scroll, client = found["table"]
    assert scroll <= client, f"{path}: the table overflows ({scroll} > {client} px)"
    assert found["page"] <= VIEWPORT["width"], f"{path}: the page is {found['page']} px wide"
    for cell in found["cut"]:
        assert cell["text"] in cell["title"], f"{path}: cut text without its whole: {cell}"


def test_superuser_lists_fit_at_1280(live_hub, open_page, demo):
    page = open_page(f"http://127.0.0.1:{live_hub.ports[0]}", demo["superuser"])
    page.set_viewport_size(VIEWPORT)

    for path in [*MAIN_LISTS, "hub_twilio/twiliocallback"]:
        found = measure(page, path)
        assert_fits(found, path)
        # Notifications are a person's, not a company's; the inbox rows precede the company.
        if path not in ("notifications/notification", "hub_twilio/twiliocallback"):
            assert "company" in found["heads"] or "companies" in found["heads"], path
        assert page.locator("#changelist-filter").is_visible(), path

    deals = measure(page, "crm/deal")
    assert LONG_TITLE in [cell["title"] for cell in deals["cut"]]


def test_company_staff_lists_fit_at_1280(live_hub, open_page, demo):
    page = open_page(f"http://127.0.0.1:{live_hub.ports[0]}", demo["staff"])
    page.set_viewport_size(VIEWPORT)

    for path in MAIN_LISTS:
        found = measure(page, path)
        assert_fits(found, path)
        assert "company" not in found["heads"], path

    deals = measure(page, "crm/deal")
    assert LONG_TITLE in [cell["title"] for cell in deals["cut"]]
    assert "Globex" not in page.content()
