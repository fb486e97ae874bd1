"""A database outage: clients authenticating meanwhile are told to come back (1013), not signed out.

The web process reaches PostgreSQL through a TCP proxy on loopback; stopping the proxy refuses
new connections and cuts the open ones, as losing the database host would.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client as DjangoClient
from websockets.exceptions import ConnectionClosed

from hub.domain.notifications.services import notification_create
from tests import factories
from tests.live.conftest import Client, database_url, wait_for
from tests.realtime.helpers import access_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]


def answer_and_close(c: Client) -> tuple[dict, tuple[int, str]]:
    frame = c.recv()
    with pytest.raises(ConnectionClosed) as closed:
        c.recv()
    assert closed.value.rcvd is not None
    return frame, (closed.value.rcvd.code, closed.value.rcvd.reason)


def session_cookie(user) -> str:
    client = DjangoClient()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"


def hello_once_back(url: str, user_id: int) -> dict | None:
    """One attempt to authenticate: the hello, or None while the server says try again."""
    c = Client(url)
    try:
        c.send({"type": "auth", "token": access_token(user_id)})
        frame = c.recv()
        if frame["type"] == "hello":
            return frame
        assert frame["code"] == "unavailable", frame
        return None
    finally:
        c.close()


def test_authenticating_during_a_database_outage_is_try_again_later(spare_daphne, db_proxy):
    user = factories.UserFactory()
    cookie = session_cookie(user)
    server = spare_daphne(
        DATABASE_URL=database_url(db_proxy.port),
        # The auth frame comes at once; the timer for it must not decide what follows.
        HUB_WS_AUTH_TIMEOUT_SECONDS="0.5",
        HUB_WS_AUTH_DB_TIMEOUT_SECONDS="2",
    )
    url = server.url(0)
    c = Client(url)
    c.auth(user.id)  # the database answers through the proxy
    c.close()

    db_proxy.stop()
    c = Client(url)
    c.send({"type": "auth", "token": access_token(user.id)})
    frame, close = answer_and_close(c)
    assert frame["type"] == "error" and frame["code"] == "unavailable"
    assert close == (1013, "database unavailable")

    browser = Client(url, additional_headers={"Cookie": cookie})
    frame, close = answer_and_close(browser)
    assert frame["type"] == "error" and frame["code"] == "unavailable"
    assert close == (1013, "database unavailable")

    # Meanwhile the hub goes on (the test process writes to the database directly).
    notification_create(user=user, title="during the outage", message="m")
    db_proxy.start()
    hello = wait_for(lambda: hello_once_back(url, user.id), what="the hub to answer hello again")
    assert hello["user"]["id"] == user.id
    browser = Client(url, additional_headers={"Cookie": cookie})
    assert browser.recv()["type"] == "hello"
    browser.send({"type": "resume", "after": 0})
    titles = []
    while (frame := browser.recv())["type"] == "event":
        titles.append(frame["data"]["title"])
    assert frame["type"] == "resumed"
    assert titles == ["during the outage"]
    browser.close()
