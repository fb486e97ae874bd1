"""The console pages in a real browser: live updates, and nothing missed across a restart."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from hub.domain.calls.services import call_status_set
from hub.domain.events.audience import viewer_events_q
from hub.domain.events.models import Event
from hub.domain.events.selectors import viewer_for_user
from hub.domain.notifications.services import notification_create
from tests import factories
from tests.browser.helpers import BROWSER_MARKS, SECONDS, staff_member
from tests.console.helpers import make_call

pytestmark = BROWSER_MARKS


def visible_event_ids(user, after: int) -> list[int]:
    viewer = viewer_for_user(user=user)
    events = Event.objects.filter(viewer_events_q(viewer), id__gt=after).order_by("id")
    return list(events.values_list("id", flat=True))


def newest_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_call_board_updates_live_and_misses_nothing_across_a_server_restart(
    spare_daphne, open_page
):
    acme, globex = factories.CompanyFactory(), factories.CompanyFactory()
    user = staff_member(acme)
    call = make_call(acme, "CAbrowser1")
    outsider_call = make_call(globex, "CAbrowser-globex")
    server = spare_daphne()
    port = server.ports[0]
    page = open_page(f"http://127.0.0.1:{port}", user)

    page.goto("/console/calls/")
    connection = page.locator("#hub-status")
    expect(connection).to_have_attribute("data-status", "live", timeout=10 * SECONDS)
    status = page.locator(f'tr[data-call-id="{call.id}"] [data-field="status"]')
    expect(status).to_have_attribute("data-status", "Initiated")
    expect(page.locator(f'tr[data-call-id="{outsider_call.id}"]')).to_have_count(0)
    # A marker that a reload would wipe, and a record of every event the page handles.
    start = newest_event_id()
    # (hub.on returns its unsubscribe function, which page.evaluate would call: return null.)
    page.evaluate(
        "window.notReloaded = true; window.seen = []; hub.on('*', e => seen.push(e.id)); null"
    )

    call_status_set(call=call, status="Ringing")
    expect(status).to_have_attribute("data-status", "Ringing", timeout=10 * SECONDS)
    expect(status).to_have_text("Ringing")

    # The server goes away (SIGTERM: it closes the sockets with 1012 and exits) ...
    proc = server.procs[0]
    proc.terminate()
    proc.wait(20)
    expect(connection).to_have_attribute(
        "data-status", re.compile("reconnecting|connecting"), timeout=10 * SECONDS
    )
    # ... the call moves on and a new one starts while the page is offline ...
    call_status_set(call=call, status="InProgress")
    second = make_call(acme, "CAbrowser2")
    call_status_set(call=call, status="Completed")
    make_call(globex, "CAbrowser-globex2")  # not for this page
    # ... and the server comes back on the same address.
    server.start_daphne(port)

    expect(status).to_have_attribute("data-status", "Completed", timeout=60 * SECONDS)
    expect(status).to_have_text("Completed")
    expect(connection).to_have_attribute("data-status", "live", timeout=10 * SECONDS)
    second_status = page.locator(f'tr[data-call-id="{second.id}"] [data-field="status"]')
    expect(second_status).to_have_attribute("data-status", "Initiated")
    assert page.evaluate("window.notReloaded") is True

    # Every event this user may see since the page was watched, each once and in order.
    expected = visible_event_ids(user, start)
    assert len(expected) == 4  # Ringing, InProgress, the new call, Completed
    page.wait_for_function(f"window.seen.length >= {len(expected)}", timeout=10 * SECONDS)
    assert page.evaluate("window.seen") == expected
    assert page.evaluate("hub.lastId") == expected[-1]


def test_notifications_are_marked_read_through_the_websocket(live_hub, open_page):
    acme = factories.CompanyFactory()
    user = staff_member(acme)
    other = staff_member(acme)
    first = notification_create(user=user, title="First", message="one")
    second = notification_create(user=user, title="Second", message="two")
    page = open_page(f"http://127.0.0.1:{live_hub.ports[0]}", user)

    page.goto("/console/notifications/")
    connection = page.locator("#hub-status")
    expect(connection).to_have_attribute("data-status", "live", timeout=10 * SECONDS)
    counter = page.locator("#unread-count")
    expect(counter).to_have_text("2")

    notification_create(user=user, title="Third", message="three")
    notification_create(user=other, title="Not yours", message="never shown")
    expect(counter).to_have_text("3", timeout=10 * SECONDS)
    expect(page.locator("#notifications li").first).to_contain_text("Third")

    # The page shows it read at once, and marks it settled when the server has answered.
    settled = page.locator("#notifications li[data-pending]")
    page.locator(f'li[data-notification-id="{first.id}"] button.mark-read').click()
    expect(page.locator(f'li[data-notification-id="{first.id}"]')).to_have_attribute(
        "data-read", "true"
    )
    expect(counter).to_have_text("2")
    expect(settled).to_have_count(0, timeout=10 * SECONDS)
    first.refresh_from_db()
    assert first.is_read

    page.locator("#mark-all-read").click()
    expect(counter).to_have_text("0")
    expect(page.locator('#notifications li[data-read="false"]')).to_have_count(0)
    expect(settled).to_have_count(0, timeout=10 * SECONDS)
    second.refresh_from_db()
    assert second.is_read
    expect(page.locator("#notifications")).not_to_contain_text("Not yours")
