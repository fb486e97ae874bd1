"""Helpers for websocket tests: tokens as the CRM issues them, and a communicator factory."""

from __future__ import annotations

import time
import uuid

import jwt
from channels.testing import WebsocketCommunicator
from django.conf import settings

from config.asgi import application


def access_token(
    user_id: int,
    *,
    key: str | None = None,
    lifetime: int = 300,
    token_type: str = "access",
    **extra,
) -> str:
    now = int(time.time())
    claims = {
        "token_type": token_type,
        "exp": now + lifetime,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "user_id": user_id,
        **extra,
    }
    return jwt.encode(claims, key or settings.HUB_JWT_SIGNING_KEY, algorithm="HS256")


def communicator() -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, "/ws/", headers=[(b"origin", b"http://localhost"), (b"host", b"localhost")]
    )


async def connect_as(user_id: int) -> tuple[WebsocketCommunicator, dict]:
    comm = communicator()
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "auth", "token": access_token(user_id)})
    hello = await comm.receive_json_from(timeout=5)
    assert hello["type"] == "hello", hello
    return comm, hello
