"""Every company at a glance, and instant mark-read, in a real browser.

The superuser of ``make run`` is a member of no company; its call board lists the calls of
both demo companies, names the company on each row (the rows that arrive live too), and keeps
the company filter in the URL. Marking a notification read shows in the badge in the same
moment in the tab that did it, and in the user's other tabs when the push arrives.
"""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from playwright.sync_api import expect

from hub.domain.authentication.models import CompanyUser, User
from hub.domain.calls.models import PhoneNumber
from hub.domain.calls.services import call_create
from hub.domain.events.models import Event
from hub.domain.notifications.models import Notification
from hub.domain.notifications.services import notification_create
from hub.ops.demo.data import ADMIN_EMAIL
from hub.ops.demo.seed import demo_companies, demo_seed
from tests import factories
from tests.browser.helpers import BROWSER_MARKS, SECONDS, open_live, staff_member, wait_live

pytestmark = BROWSER_MARKS


@pytest.fixture
def demo(settings):
    """The demo tenants and their superuser, as `make run` seeds them."""
    settings.EMAIL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    demo_seed()
    return User.objects.get(email=ADMIN_EMAIL), demo_companies()


def live_call(company, sid: str):
    """A call of ``company`` on one of its Twilio numbers, as a status callback would store it."""
    number = PhoneNumber.objects.filter(company=company).order_by("id").first()
    return call_create(
        company=company,
        phone_number=number,
        direction="Inbound",
        from_number="+14155550100",
        to_number=number.phone_number,
        twilio_call_sid=sid,
    )


def test_the_superusers_call_board_lists_calls_of_both_demo_companies(live_hub, open_page, demo):
    admin, companies = demo
    # A member of neither: it sees them as a superuser.
    assert admin.is_superuser and not CompanyUser.objects.filter(user=admin).exists()
    page = open_live(open_page, live_hub, admin, "/console/calls/")

    for company in companies:
        rows = page.locator(f'#calls tr[data-company-id="{company.id}"]')
        expect(rows.first).to_be_visible()
        expect(rows.first.locator('[data-field="company"]')).to_have_text(company.company_name)
    expect(page.locator("#calls thead")).to_contain_text("Company")

    # A call that starts now, in either company, appears with its company named.
    for index, company in enumerate(companies):
        call = live_call(company, f"CAglance{index}")
        row = page.locator(f'#calls tr[data-call-id="{call.id}"]')
        expect(row.locator('[data-field="company"]')).to_have_text(
            company.company_name, timeout=10 * SECONDS
        )
        expect(row.locator('[data-field="status"]')).to_have_text("Initiated")


def test_the_company_filter_keeps_other_companies_out_live_too(live_hub, open_page, demo):
    admin, (first, second) = demo
    page = open_live(open_page, live_hub, admin, "/console/calls/")

    page.locator("select[data-company-filter]").select_option(str(second.id))
    page.wait_for_url(f"**/console/calls/?company={second.id}")
    wait_live(page)
    expect(page.locator(f'#calls tr[data-company-id="{first.id}"]')).to_have_count(0)
    expect(page.locator(f'#calls tr[data-company-id="{second.id}"]').first).to_be_visible()

    # The other company's call happens first: once the second one's shows, the first was seen.
    page.evaluate("window.seen = []; hub.on('*', e => seen.push(e.id)); null")
    elsewhere = live_call(first, "CAfilter-elsewhere")
    here = live_call(second, "CAfilter-here")
    expect(page.locator(f'#calls tr[data-call-id="{here.id}"]')).to_have_count(
        1, timeout=10 * SECONDS
    )
    assert created_event_id(elsewhere) in page.evaluate("window.seen")
    expect(page.locator(f'#calls tr[data-call-id="{elsewhere.id}"]')).to_have_count(0)
    expect(page.locator(f'#calls tr[data-company-id="{first.id}"]')).to_have_count(0)


def created_event_id(call) -> int:
    return Event.objects.get(type="call.created", payload__id=call.id).id


# --- instant mark-read ---------------------------------------------------------------------------


# Click and read the badges in one turn of the page's JavaScript: nothing from the server (an
# ack or an event, each a task of its own) can run between the two, so what this reads is what
# the click alone did.
CLICK_AND_READ = """(selector) => {
  const before = document.querySelector("[data-unread-badge]").textContent;
  document.querySelector(selector).click();
  const li = document.querySelector(selector).closest("li");
  return {
    before,
    nav: document.querySelector("[data-unread-badge]").textContent,
    heading: document.querySelector("#unread-count").textContent,
    read: li ? li.dataset.read : null,
  };
}"""


def test_marking_read_shows_at_once_here_and_on_the_push_in_other_tabs(live_hub, open_page):
    company = factories.CompanyFactory()
    user = staff_member(company)
    first, second, third = (
        notification_create(user=user, title=title, message="m") for title in ("1st", "2nd", "3rd")
    )
    here = open_live(open_page, live_hub, user, "/console/notifications/")
    elsewhere = open_live(open_page, live_hub, user, "/console/calls/")
    other_badge = elsewhere.locator("[data-unread-badge]")
    expect(other_badge).to_have_text("3")

    shown = here.evaluate(CLICK_AND_READ, f'li[data-notification-id="{first.id}"] button.mark-read')
    assert shown == {"before": "3", "nav": "2", "heading": "2", "read": "true"}
    expect(other_badge).to_have_text("2", timeout=10 * SECONDS)
    first.refresh_from_db()
    assert first.is_read

    shown = here.evaluate(CLICK_AND_READ, "#mark-all-read")
    assert (shown["before"], shown["nav"], shown["heading"]) == ("2", "0", "0")
    expect(here.locator('#notifications li[data-read="false"]')).to_have_count(0)
    expect(other_badge).to_have_text("0", timeout=10 * SECONDS)
    assert not Notification.objects.filter(user=user, is_read=False).exists()
    # The server's events confirm what the page showed: nothing went back.
    expect(here.locator("#unread-count")).to_have_text("0")
    assert {second.id, third.id} <= set(
        Notification.objects.filter(is_read=True).values_list("id", flat=True)
    )


def test_a_refused_mark_read_is_put_back_with_the_reason(live_hub, open_page):
    company = factories.CompanyFactory()
    user = staff_member(company)
    kept = notification_create(user=user, title="Kept", message="m")
    gone = notification_create(user=user, title="Gone", message="m")
    page = open_live(open_page, live_hub, user, "/console/notifications/")
    # Deleted before its notification.deleted event has reached the page (here: with the
    # triggers off for the deleting session, so no event comes): the server will refuse it.
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute("DELETE FROM notifications_notification WHERE id = %s", [gone.id])
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")

    shown = page.evaluate(CLICK_AND_READ, f'li[data-notification-id="{gone.id}"] button.mark-read')
    assert shown == {"before": "2", "nav": "1", "heading": "1", "read": "true"}

    expect(page.locator("#notice")).to_have_text(
        "Could not mark read: it no longer exists.", timeout=10 * SECONDS
    )
    expect(page.locator(f'li[data-notification-id="{gone.id}"]')).to_have_attribute(
        "data-read", "false"
    )
    expect(page.locator("[data-unread-badge]")).to_have_text("2")
    expect(page.locator("#unread-count")).to_have_text("2")
    expect(page.locator("#notifications li[data-pending]")).to_have_count(0)
    kept.refresh_from_db()
    assert not kept.is_read


def test_a_notification_deleted_anywhere_leaves_every_tab(live_hub, open_page):
    company = factories.CompanyFactory()
    user = staff_member(company)
    kept = notification_create(user=user, title="Kept", message="m")
    gone = notification_create(user=user, title="Gone", message="m")
    page = open_live(open_page, live_hub, user, "/console/notifications/")
    elsewhere = open_live(open_page, live_hub, user, "/console/calls/")
    expect(elsewhere.locator("[data-unread-badge]")).to_have_text("2")

    with connection.cursor() as cursor:  # as the CRM or psql would
        cursor.execute("DELETE FROM notifications_notification WHERE id = %s", [gone.id])

    expect(page.locator(f'li[data-notification-id="{gone.id}"]')).to_have_count(
        0, timeout=10 * SECONDS
    )
    expect(page.locator(f'li[data-notification-id="{kept.id}"]')).to_have_count(1)
    expect(page.locator("#unread-count")).to_have_text("1")
    expect(elsewhere.locator("[data-unread-badge]")).to_have_text("1", timeout=10 * SECONDS)
