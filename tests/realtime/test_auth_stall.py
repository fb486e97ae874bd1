"""Authenticating while the database stalls: 1013 (try again later), never 4401 (signed out).

The stall is real: another PostgreSQL session holds an exclusive lock on the users table, so
the consumer's read of the user waits, as it waits on a pool or a database under load.
tests/live/test_outage.py takes the database away altogether.
"""

from __future__ import annotations

import contextlib
import os

import psycopg
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from config.asgi import application
from tests import factories
from tests.realtime.helpers import access_token, communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def needs_postgres():
    if connection.vendor != "postgresql":
        if os.environ.get("CI") == "true":
            pytest.fail("this test needs PostgreSQL, and CI must run it")
        pytest.skip("needs PostgreSQL (a table lock stalls the reads)")


@contextlib.contextmanager
def users_table_locked():
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"] or "postgres",
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
    ) as conn:
        conn.execute("LOCK TABLE authentication_user IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


@database_sync_to_async
def make_user():
    return factories.UserFactory()


@database_sync_to_async
def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


async def answer_and_close(comm) -> tuple[dict, dict]:
    frame = await comm.receive_json_from(timeout=10)
    closed = await comm.receive_output(timeout=10)
    return frame, closed


UNAVAILABLE = {
    "type": "error",
    "code": "unavailable",
    "message": "the service is unavailable for a moment; try again",
}
TRY_AGAIN_LATER = {"type": "websocket.close", "code": 1013, "reason": "database unavailable"}


async def test_a_token_auth_the_database_cannot_answer_in_time_is_closed_1013(settings):
    # The auth frame arrives well within its 0.3 s; the database read then takes longer than
    # that: the auth timer must not close the connection as if no frame had come.
    settings.HUB_WS_AUTH_TIMEOUT_SECONDS = 0.3
    settings.HUB_WS_AUTH_DB_TIMEOUT_SECONDS = 1.0
    user = await make_user()
    comm = communicator()
    assert (await comm.connect())[0]
    with users_table_locked():
        await comm.send_json_to({"type": "auth", "token": access_token(user.id)})
        assert await answer_and_close(comm) == (UNAVAILABLE, TRY_AGAIN_LATER)
    # Once the database answers again, the same token is welcome.
    comm = communicator()
    await comm.connect()
    await comm.send_json_to({"type": "auth", "token": access_token(user.id)})
    assert (await comm.receive_json_from(timeout=10))["type"] == "hello"
    await comm.disconnect()


async def test_a_session_whose_user_cannot_be_loaded_in_time_is_closed_1013(settings):
    settings.HUB_WS_AUTH_DB_TIMEOUT_SECONDS = 1.0
    user = await make_user()
    cookie = await session_cookie(user)
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie)]
    comm = WebsocketCommunicator(application, "/ws/", headers=headers)
    with users_table_locked():
        assert (await comm.connect())[0]  # accepted at once: the user is read afterwards
        assert await answer_and_close(comm) == (UNAVAILABLE, TRY_AGAIN_LATER)
    comm = WebsocketCommunicator(application, "/ws/", headers=headers)
    await comm.connect()
    hello = await comm.receive_json_from(timeout=10)
    assert hello["type"] == "hello" and hello["user"]["id"] == user.id
    await comm.disconnect()
