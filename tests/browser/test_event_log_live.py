"""The event log in a real browser: readable lines that arrive live, filtered, payload on demand."""

from __future__ import annotations

from playwright.sync_api import expect

from hub.domain.authentication.services import company_user_add
from hub.domain.calls.services import call_status_set
from hub.domain.events.models import Event
from hub.domain.notifications.services import notification_create
from tests import factories
from tests.browser.helpers import BROWSER_MARKS, SECONDS, open_live, staff_member
from tests.console.helpers import make_call

pytestmark = BROWSER_MARKS


def open_log(open_page, live_hub, user, query: str = ""):
    return open_live(
        open_page,
        live_hub,
        user,
        f"/console/events/{query}",
        viewport={"width": 1280, "height": 800},
    )


def top_line(page):
    return page.locator("#events li.event").first


def text_of(line) -> str:
    return line.evaluate("node => node.innerText")


def test_new_events_appear_on_top_as_readable_lines_the_same_as_on_reload(live_hub, open_page):
    acme = factories.CompanyFactory(company_name="Acme")
    globex = factories.CompanyFactory(company_name="Globex")
    root = factories.UserFactory(is_staff=True, is_superuser=True)
    page = open_log(open_page, live_hub, root)

    call = make_call(acme, "CAlive-log")
    line = top_line(page)
    expect(line).to_contain_text(
        f"Call #{call.id} +14155550100 → +14155550111 · Initiated", timeout=10 * SECONDS
    )
    expect(line).to_contain_text("Acme")
    expect(line).to_contain_text("call.created")

    call_status_set(call=call, status="InProgress")
    expect(line).to_contain_text("call.updated", timeout=10 * SECONDS)
    expect(line).to_contain_text(f"Call #{call.id} +14155550100 → +14155550111 · In progress")
    event_id = int(line.get_attribute("data-event-id") or 0)
    assert Event.objects.get(pk=event_id).type == "call.updated"
    other = make_call(globex, "CAlive-log-globex")
    expect(line).to_contain_text(f"Call #{other.id} ", timeout=10 * SECONDS)
    expect(line).to_contain_text("Globex")

    live = {
        int(n.get_attribute("data-event-id") or 0): text_of(n)
        for n in page.locator("#events li.event").all()
    }
    assert len(live) == 3
    page.reload()
    rendered = {
        int(n.get_attribute("data-event-id") or 0): text_of(n)
        for n in page.locator("#events li.event").all()
    }
    assert {i: rendered[i] for i in live} == live


def test_a_filtered_page_shows_only_its_company_and_type_live(live_hub, open_page):
    acme = factories.CompanyFactory(company_name="Acme")
    globex = factories.CompanyFactory(company_name="Globex")
    member = staff_member(acme)
    company_user_add(company=globex, user=member, role="ceo")
    page = open_log(open_page, live_hub, member, f"?company={globex.id}&type=calls")
    expect(page.locator("select[data-company-filter]")).to_have_value(str(globex.id))

    hidden_call = make_call(acme, "CAfilter-acme")
    notification_create(user=member, title="Not a call", message="m")
    shown_call = make_call(globex, "CAfilter-globex")
    expect(top_line(page)).to_contain_text(f"Call #{shown_call.id} ", timeout=10 * SECONDS)
    # Events reach the page in log order: the earlier ones would be there by now.
    lines = page.locator("#events li.event")
    expect(lines).to_have_count(1)
    expect(page.locator("#events")).not_to_contain_text(f"Call #{hidden_call.id} ")
    expect(page.locator("#events")).not_to_contain_text("Not a call")


def test_the_payload_opens_on_demand_and_the_page_never_scrolls_sideways(live_hub, open_page):
    acme = factories.CompanyFactory(company_name="Acme")
    member = staff_member(acme)
    long_title = "Quarterly-renewal-for-" + "x" * 200
    notification_create(user=member, title=long_title, message="m " * 200)
    page = open_log(open_page, live_hub, member)

    line = top_line(page)
    payload = line.locator("details.event-payload pre")
    expect(payload).to_be_hidden()
    line.locator("summary").click()
    expect(payload).to_be_visible()
    expect(payload).to_contain_text(f'"title": "{long_title}"')

    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"
    # The line itself keeps to one line: its long subject is cut, the whole of it on hover.
    subject = line.locator(".event-subject")
    assert long_title in (subject.get_attribute("title") or "")
    assert subject.evaluate("n => n.getBoundingClientRect().height < 30")
