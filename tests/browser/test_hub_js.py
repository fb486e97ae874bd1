"""hub.js in a real browser against real servers: tokens, auth errors, keepalive, the event log."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from hub.domain.calls.services import call_create
from hub.domain.notifications.services import notification_create
from tests import factories
from tests.browser.helpers import BROWSER_MARKS, SECONDS, open_live, staff_member, wait_live
from tests.realtime.helpers import access_token

pytestmark = BROWSER_MARKS

# A second client on a console page: records its status changes, events and auth errors.
SECOND_CLIENT = """([options]) => {
  window.log = {statuses: [], events: [], authErrors: []};
  window.second = new Hub(Object.assign(options, {
    onStatus: (status) => log.statuses.push(status),
    onEvent: (event) => log.events.push(event),
    onAuthError: (info) =>
      log.authErrors.push({code: info.code, error: info.error && info.error.code}),
  }));
  return null;
}"""


@pytest.fixture
def acme_page(live_hub, open_page):
    """A console page of a staff member of a fresh company, its own client live."""
    company = factories.CompanyFactory()
    user = staff_member(company)
    page = open_live(open_page, live_hub, user, "/console/events/")
    return page, user, company


def test_a_token_client_authenticates_with_its_first_frame(cookieless_page):
    page = cookieless_page
    user = staff_member(factories.CompanyFactory())
    token = access_token(user.id)
    page.evaluate(SECOND_CLIENT, [{"token": token}])
    page.wait_for_function("second.status === 'live'", timeout=10 * SECONDS)
    assert page.evaluate("second.hello.user.id") == user.id
    notification_create(user=user, title="for the token client", message="m")
    page.wait_for_function("log.events.length === 1", timeout=10 * SECONDS)
    event = page.evaluate("log.events[0]")
    assert event["type"] == "notification.created"
    assert event["data"]["title"] == "for the token client"


def test_a_bad_token_calls_on_auth_error_and_does_not_reconnect(cookieless_page):
    page = cookieless_page
    user = factories.UserFactory()
    forged = access_token(user.id, key="an-attacker-key-of-thirty-two-bytes")
    page.evaluate(SECOND_CLIENT, [{"token": forged}])
    page.wait_for_function("log.authErrors.length === 1", timeout=10 * SECONDS)
    assert page.evaluate("log.authErrors") == [{"code": 4401, "error": "bad_token"}]
    assert page.evaluate("second.status") == "auth_error"
    # Nothing is scheduled: no blind retry with the same credentials.
    assert page.evaluate("second.socket === null && second._retryTimer === null")
    assert "reconnecting" not in page.evaluate("log.statuses")


def test_a_failing_get_token_is_an_auth_error(cookieless_page):
    page = cookieless_page
    page.evaluate(
        """() => { window.log = {authErrors: []};
        window.second = new Hub({getToken: () => Promise.reject(new Error("signed out")),
          onAuthError: (info) => log.authErrors.push(info.reason)}); return null; }"""
    )
    page.wait_for_function("log.authErrors.length === 1", timeout=10 * SECONDS)
    assert page.evaluate("log.authErrors") == ["getToken failed"]
    assert page.evaluate("second.status") == "auth_error"


def test_pings_keep_an_idle_connection_open_past_the_idle_timeout(spare_daphne, open_page):
    company = factories.CompanyFactory()
    user = staff_member(company)
    server = spare_daphne(HUB_WS_IDLE_TIMEOUT_SECONDS="2")
    page = open_page(f"http://127.0.0.1:{server.ports[0]}", user)
    page.goto("/console/calls/")
    wait_live(page)
    assert page.evaluate("hub.hello.heartbeat_seconds") == pytest.approx(2 / 3)
    # A bare socket that never sends anything is closed for idleness (4408) ...
    page.evaluate(
        """() => { window.bare = {code: null};
        const ws = new WebSocket(`ws://${location.host}/ws/`);
        ws.onclose = (e) => { bare.code = e.code; }; return null; }"""
    )
    page.wait_for_function("bare.code !== null", timeout=10 * SECONDS)
    assert page.evaluate("bare.code") == 4408
    # ... while hub.js, pinging every third of the timeout, keeps its socket well past it.
    page.evaluate(
        """() => { window.kept = {socket: hub.socket, pongs: 0};
        hub.socket.addEventListener('message', (m) => {
          if (JSON.parse(m.data).type === 'pong') kept.pongs++; });
        return null; }"""
    )
    page.wait_for_function("kept.pongs >= 8", timeout=15 * SECONDS)  # over 5 s: 2.5 timeouts
    assert page.evaluate("hub.socket === kept.socket && hub.status === 'live'")


def test_event_log_shows_new_events_the_user_may_see_live(acme_page):
    page, user, company = acme_page
    outsider = staff_member(factories.CompanyFactory())
    notification_create(user=outsider, title="not for this page", message="m")
    call = call_create(
        company=company,
        direction="Outbound",
        from_number="+14155550100",
        to_number="+14155550111",
        twilio_call_sid="CAeventlog",
    )
    notification_create(user=user, title="for the log", message="m")
    rows = page.locator("#events li.event")
    expect(rows).to_have_count(2, timeout=10 * SECONDS)
    expect(rows.nth(0)).to_contain_text("notification.created")
    expect(rows.nth(0)).to_contain_text("for the log")
    expect(rows.nth(1)).to_contain_text("call.created")
    expect(rows.nth(1)).to_contain_text(f"Call #{call.id}")
    expect(page.locator("#events")).not_to_contain_text("not for this page")
