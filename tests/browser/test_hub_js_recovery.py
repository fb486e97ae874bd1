"""hub.js in Chromium through what should not sign anyone out: an expired token, a database
outage, a server error, a cursor the server never reached."""

from __future__ import annotations

import pytest

from hub.domain.notifications.services import notification_create
from tests import factories
from tests.browser.helpers import BROWSER_MARKS, SECONDS, staff_member
from tests.live.conftest import database_url
from tests.realtime.helpers import access_token

pytestmark = BROWSER_MARKS

# A client that records what happens to it: statuses (with the close code and reason of each
# "reconnecting"), events, resets and auth errors.
RECORDED_CLIENT = """([options]) => {
  window.log = {statuses: [], events: [], resets: [], authErrors: []};
  window.second = new Hub(Object.assign(options, {
    onStatus: (status, info) => log.statuses.push([status, info.code ?? null, info.reason ?? null]),
    onEvent: (event) => log.events.push(event.data.title),
    onReset: (frame) => log.resets.push(frame.reason),
    onAuthError: (info) => log.authErrors.push([info.code, info.reason]),
  }));
  return null;
}"""


def test_a_token_that_runs_out_is_replaced_by_get_token_and_the_client_resumes(
    cookieless_page,
):
    page = cookieless_page
    user = staff_member(factories.CompanyFactory())
    # Expired 3 s ago: accepted (5 s leeway), then closed 4401 "token expired" about 2 s later.
    first = access_token(user.id, lifetime=-3)

    def fresh_token() -> str:
        # Called by getToken for the new connection: an event happens in between.
        notification_create(user=user, title="while reconnecting", message="m")
        return access_token(user.id)

    page.expose_function("freshToken", fresh_token)
    page.evaluate(
        "([first]) => { let calls = 0; window.tokenCalls = () => calls;"
        f" ({RECORDED_CLIENT})([{{minDelay: 100,"
        " getToken: () => (calls++ === 0 ? first : window.freshToken())}]); return null; }",
        [first],
    )
    page.wait_for_function("log.events.length === 1", timeout=20 * SECONDS)
    assert page.evaluate("log.events") == ["while reconnecting"]
    assert ["reconnecting", 4401, "token expired"] in page.evaluate("log.statuses")
    assert page.evaluate("log.authErrors") == []
    assert page.evaluate("tokenCalls()") == 2
    # The second connection resumed from where the first left off.
    statuses = [s[0] for s in page.evaluate("log.statuses")]
    assert statuses[statuses.index("reconnecting") :][-3:] == ["connecting", "resuming", "live"]


def test_the_client_rides_out_a_database_outage_and_misses_nothing(
    cookieless_page, spare_daphne, db_proxy
):
    page = cookieless_page
    user = staff_member(factories.CompanyFactory())
    server = spare_daphne(
        DATABASE_URL=database_url(db_proxy.port), HUB_WS_AUTH_DB_TIMEOUT_SECONDS="1"
    )
    options = {"url": server.url(0), "token": access_token(user.id), "minDelay": 200}
    page.evaluate(RECORDED_CLIENT, [options | {"maxDelay": 1000}])
    page.wait_for_function("second.status === 'live'", timeout=10 * SECONDS)

    db_proxy.stop()
    page.evaluate("second.socket.close(); null")  # a network blip: hub.js reconnects
    page.wait_for_function(
        "log.statuses.some(([status, code]) => status === 'reconnecting' && code === 1013)",
        timeout=20 * SECONDS,
    )
    notification_create(user=user, title="during the outage", message="m")
    db_proxy.start()
    page.wait_for_function("log.events.length === 1", timeout=30 * SECONDS)
    assert page.evaluate("log.events") == ["during the outage"]
    assert page.evaluate("second.status") == "live"
    assert page.evaluate("log.authErrors") == []
    codes = {code for status, code, _ in page.evaluate("log.statuses") if code}
    assert 4401 not in codes


# A WebSocket stand-in that the server closes with a given code as soon as it opens.
CLOSED_WITH = """([code]) => {
  window.made = 0;
  function Closing(url) {
    window.made++;
    const socket = this;
    this.readyState = 0;
    setTimeout(() => {
      socket.readyState = 3;
      if (socket.onclose) socket.onclose({code: code, reason: "test"});  // unless hub.close()d
    }, 0);
  }
  Closing.prototype.send = () => {};
  Closing.prototype.close = () => {};
  window.second = new Hub({url: "ws://unused/", token: "t", WebSocket: Closing,
                           minDelay: 5, maxDelay: 10});
  return null;
}"""


@pytest.mark.parametrize("code", [1006, 1011, 1012, 1013])
def test_server_failures_are_retried_with_backoff(cookieless_page, code):
    page = cookieless_page
    page.evaluate(CLOSED_WITH, [code])
    page.wait_for_function("made >= 4", timeout=10 * SECONDS)
    assert page.evaluate("second.status") in ("reconnecting", "connecting")
    page.evaluate("second.close(); null")


@pytest.mark.parametrize("code", [4401, 4403])
def test_auth_failures_are_not_retried(cookieless_page, code):
    page = cookieless_page
    page.evaluate(CLOSED_WITH, [code])
    page.wait_for_function("second.status === 'auth_error'", timeout=10 * SECONDS)
    assert page.evaluate("made") == 1
    assert page.evaluate("second._retryTimer") is None


def test_a_cursor_the_server_never_reached_is_reset_and_the_stream_goes_on(cookieless_page):
    page = cookieless_page
    user = staff_member(factories.CompanyFactory())
    options = {"token": access_token(user.id), "lastId": 10**12}
    page.evaluate(RECORDED_CLIENT, [options])
    page.wait_for_function("log.resets.length === 1", timeout=10 * SECONDS)
    assert page.evaluate("log.resets") == ["ahead_of_server"]
    assert page.evaluate("second.lastId < 1e12")
    notification_create(user=user, title="after the reset", message="m")
    page.wait_for_function("log.events.length === 1", timeout=10 * SECONDS)
    assert page.evaluate("log.events") == ["after the reset"]
