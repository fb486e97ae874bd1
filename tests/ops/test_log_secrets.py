"""No secret reaches a log line: tokens, passwords, Authorization and Cookie headers, Twilio
signatures, the JWT of a websocket auth frame, URL passwords, exception messages."""

from __future__ import annotations

import json
import logging
import time
import uuid

import jwt
import pytest
import structlog
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

log = structlog.get_logger("tests.ops")
stdlib_log = logging.getLogger("tests.ops")

# Values no log line may contain. Each is distinctive, so finding it means it leaked.
PASSWORD = "Hunter2-pa55word-f00d"
SESSION_ID = "sessionvalue0123456789abcdef"
CSRF_TOKEN = "csrfvalue0123456789abcdefABCDEF"
TWILIO_SIGNATURE = "0Vf4Pz1Hf9a8K3bQ2r7tYzWmQ4Zsig="
API_TOKEN = "opaque-api-token-7c9e2b"
SLACK_TOKEN = "xoxb-1111-2222-slacksecret"


def make_jwt(user_id: int = 1, key: str | None = None) -> str:
    now = int(time.time())
    claims = {
        "token_type": "access",
        "exp": now + 300,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "user_id": user_id,
    }
    return jwt.encode(claims, key or settings.HUB_JWT_SIGNING_KEY, algorithm="HS256")


def assert_absent(text: str, *secrets: str) -> None:
    leaked = [secret for secret in secrets if secret in text]
    assert not leaked, f"leaked {leaked} in:\n{text}"


def secret_headers(token: str) -> dict[str, str]:
    return {
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_COOKIE": f"sessionid={SESSION_ID}; csrftoken={CSRF_TOKEN}",
        "HTTP_X_TWILIO_SIGNATURE": TWILIO_SIGNATURE,
        "HTTP_X_API_TOKEN": API_TOKEN,
    }


# --- real requests ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.urls("tests.ops.views")
def test_webhook_that_logs_its_headers_and_form_leaks_nothing(client, json_logs):
    token = make_jwt()
    response = client.post(
        f"/ops-test/webhook?token={API_TOKEN}&page=2",
        {"CallSid": "CA123", "Password": PASSWORD, "slack_token": SLACK_TOKEN},
        **secret_headers(token),
    )

    assert response.status_code == 200
    text = json_logs.text
    assert_absent(
        text, token, PASSWORD, SESSION_ID, CSRF_TOKEN, TWILIO_SIGNATURE, API_TOKEN, SLACK_TOKEN
    )
    # The lines were written, with what is not secret still in them.
    (received,) = json_logs.named("webhook received")
    assert received["meta"]["HTTP_AUTHORIZATION"] == "[redacted]"
    assert received["query"]["page"] == "2"
    assert received["form"]["CallSid"] == "CA123"
    assert any("webhook headers" in r["event"] for r in json_logs.records())


@pytest.mark.django_db
@pytest.mark.urls("tests.ops.views")
def test_server_error_traceback_leaks_no_header(json_logs):
    token = make_jwt()
    client = Client(raise_request_exception=False)

    response = client.get("/ops-test/fail", **secret_headers(token))

    assert response.status_code == 500
    (error,) = [r for r in json_logs.records() if r["event"].startswith("Internal Server Error")]
    assert "RuntimeError: could not verify" in error["exception"]
    assert_absent(json_logs.text, token, SESSION_ID, CSRF_TOKEN, TWILIO_SIGNATURE, API_TOKEN)


@pytest.mark.django_db
def test_not_found_with_secrets_in_the_query_string_leaks_nothing(client, json_logs):
    # Django logs the 404 with the request object, whose repr holds the query string.
    client.get(
        f"/no-such-page/?token={API_TOKEN}&password={PASSWORD}&access_token={SLACK_TOKEN}",
        **secret_headers(make_jwt()),
    )

    assert any(r["event"].startswith("Not Found") for r in json_logs.records())
    assert_absent(json_logs.text, API_TOKEN, PASSWORD, SLACK_TOKEN, SESSION_ID, TWILIO_SIGNATURE)


@pytest.mark.django_db
def test_admin_login_leaks_no_password(client, json_logs):
    client.get("/admin/login/")
    client.post(
        "/admin/login/?next=/admin/",
        {"username": "alice@example.com", "password": PASSWORD},
        HTTP_COOKIE=f"sessionid={SESSION_ID}",
    )

    assert json_logs.named("request")
    assert_absent(json_logs.text, PASSWORD, SESSION_ID)


# --- the websocket auth frame -------------------------------------------------------------------


@pytest.fixture
async def stop_dispatcher():
    from channels.db import database_sync_to_async
    from django.db import connections

    from hub.consumers.dispatcher import dispatcher

    yield
    await dispatcher.stop()
    await database_sync_to_async(connections.close_all)()


def _communicator() -> WebsocketCommunicator:
    from config.asgi import application

    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    return WebsocketCommunicator(application, "/ws/", headers=headers)


@pytest.mark.django_db(transaction=True)
async def test_websocket_auth_frames_leak_no_jwt(json_logs, stop_dispatcher):
    from channels.db import database_sync_to_async

    from tests import factories

    user = await database_sync_to_async(factories.UserFactory)()
    good = make_jwt(user.id)
    forged = make_jwt(user.id, key="another-key-that-is-at-least-32-bytes-long")

    comm = _communicator()
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "auth", "token": good})
    assert (await comm.receive_json_from(timeout=5))["type"] == "hello"
    await comm.disconnect()

    comm = _communicator()
    await comm.connect()
    await comm.send_json_to({"type": "auth", "token": forged})
    assert (await comm.receive_json_from(timeout=5))["code"] == "bad_token"
    assert (await comm.receive_output(timeout=5))["code"] == 4401

    assert_absent(json_logs.text, good, forged)


# --- direct log calls ---------------------------------------------------------------------------


def _log_calls(token: str):
    frame = {"type": "auth", "token": token}
    return {
        "auth frame as a dict": lambda: log.info("frame", frame=frame),
        "auth frame as text": lambda: log.info("frame received", text=json.dumps(frame)),
        "auth frame in a stdlib message": lambda: stdlib_log.warning(
            "bad frame %s", json.dumps(frame)
        ),
        "token in an f-string": lambda: log.info(f"auth with {token}"),
        "secret-named keys": lambda: log.info(
            "login", password=PASSWORD, api_token=API_TOKEN, twilio_auth_token=API_TOKEN
        ),
        "headers as tuples": lambda: log.info(
            "scope",
            headers=[
                (b"authorization", f"Bearer {token}".encode()),
                (b"x-twilio-signature", TWILIO_SIGNATURE.encode()),
                (b"cookie", f"sessionid={SESSION_ID}".encode()),
            ],
        ),
        "header text": lambda: stdlib_log.info(
            "Authorization: Bearer %s\r\nX-Twilio-Signature: %s", token, TWILIO_SIGNATURE
        ),
        "url with a password": lambda: log.info(
            "connecting", target=f"postgres://hub:{PASSWORD}@db.internal:5432/hub"
        ),
        "password in a stdlib message": lambda: stdlib_log.info(
            "DATABASE_URL=postgres://hub:%s@db/hub", PASSWORD
        ),
        "key=value text": lambda: log.info(f"retrying with password={PASSWORD} token={API_TOKEN}"),
        "positional args": lambda: log.info("sent %s", {"Authorization": f"Bearer {token}"}),
        "nested": lambda: log.info(
            "twilio", request={"headers": {"X-Twilio-Signature": TWILIO_SIGNATURE}}
        ),
    }


def _exception_calls(token: str):
    def structlog_exception():
        try:
            raise PermissionError(f"bad signature {TWILIO_SIGNATURE} for Bearer {token}")
        except PermissionError:
            log.exception("verification failed")

    def stdlib_exception():
        try:
            raise ValueError(f"cannot connect to redis://:{PASSWORD}@cache:6379/0")
        except ValueError:
            stdlib_log.exception("broker down")

    return {"structlog exception": structlog_exception, "stdlib exception": stdlib_exception}


@pytest.mark.parametrize("name", [*_log_calls("x"), *_exception_calls("x")])
def test_log_call_leaks_nothing(name, json_logs):
    token = make_jwt()
    calls = {**_log_calls(token), **_exception_calls(token)}

    calls[name]()

    records = json_logs.records()
    assert len(records) == 1, json_logs.text
    assert_absent(json_logs.text, token, PASSWORD, API_TOKEN, TWILIO_SIGNATURE, SESSION_ID)
    assert "[redacted]" in json_logs.text


def test_console_format_redacts_too(console_logs):
    token = make_jwt()
    log.info("frame", frame={"type": "auth", "token": token}, password=PASSWORD)
    stdlib_log.info("Authorization: Bearer %s", token)

    assert "frame" in console_logs.text
    assert_absent(console_logs.text, token, PASSWORD)


def test_innocent_values_are_kept(json_logs):
    log.info("call updated", call_sid="CA123", status="completed", duration_ms=12.5, user_id=7)

    (record,) = json_logs.records()
    assert record["call_sid"] == "CA123" and record["status"] == "completed"
    assert record["duration_ms"] == 12.5 and record["user_id"] == 7
