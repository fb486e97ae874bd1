"""A websocket connection's log lines carry a request id, as an HTTP request's do."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from tests import factories
from tests.realtime.helpers import access_token

pytestmark = pytest.mark.django_db(transaction=True)


async def _connect_and_flood(user_id: int, headers: list[tuple[bytes, bytes]]) -> None:
    comm = WebsocketCommunicator(
        application,
        "/ws/",
        headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"), *headers],
    )
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "auth", "token": access_token(user_id)})
    assert (await comm.receive_json_from(timeout=5))["type"] == "hello"
    await comm.send_to(text_data="x" * (70 * 1024))  # over HUB_WS_MAX_FRAME_BYTES: closed 1009
    assert (await comm.receive_json_from(timeout=5))["code"] == "frame_too_large"
    assert (await comm.receive_output(timeout=5))["code"] == 1009
    await comm.wait(timeout=5)


async def test_the_upgrade_requests_id_names_the_connection_in_its_logs(json_logs):
    user = await database_sync_to_async(factories.UserFactory)()
    await _connect_and_flood(user.id, [(b"x-request-id", b"ws-req-7")])
    await _connect_and_flood(user.id, [(b"x-request-id", b"bad id\n")])

    given, made = json_logs.named("closing websocket")
    assert (given["request_id"], given["code"], given["user_id"]) == ("ws-req-7", 1009, user.id)
    assert made["request_id"] not in ("ws-req-7", "bad id\n") and len(made["request_id"]) == 32
