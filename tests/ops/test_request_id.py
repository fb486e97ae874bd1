"""Request ids: X-Request-ID honoured when sane, else generated; returned and on every log line."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

GENERATED = re.compile(r"[0-9a-f]{32}")


def test_request_id_is_generated_and_returned(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]

    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second)
    assert first != second


def test_given_request_id_is_honoured(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.2_b")
    assert response["X-Request-ID"] == "lb-7f3a.2_b"


@pytest.mark.parametrize(
    "given",
    ["", "x" * 65, "has space", "semi;colon", "abc\n", "abc\ninjected=1", "é"],
    ids=["empty", "too-long", "space", "semicolon", "trailing-newline", "newline", "non-ascii"],
)
def test_insane_request_id_is_replaced(client, given):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=given)

    assert response.status_code == 200
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_log_lines_of_a_request_carry_its_id(client, json_logs):
    response = client.get("/no-such-page-for-the-request-id-test/", HTTP_X_REQUEST_ID="req-42")

    assert response.status_code == 404
    assert response["X-Request-ID"] == "req-42"
    (summary,) = json_logs.named("request")
    assert summary["request_id"] == "req-42"
    assert summary["logger"] == "hub.request"
    assert summary["method"] == "GET" and summary["status"] == 404
    # Django's own stdlib log line about the 404 is structured and carries the id too.
    not_found = [r for r in json_logs.records() if r["event"].startswith("Not Found")]
    assert not_found and all(r["request_id"] == "req-42" for r in not_found)


def test_each_request_gets_its_own_id_in_the_logs(client, json_logs):
    client.get("/healthz", HTTP_X_REQUEST_ID="first")
    client.get("/healthz")

    ids = [record["request_id"] for record in json_logs.named("request")]
    assert ids[0] == "first"
    assert GENERATED.fullmatch(ids[1])


def test_lines_logged_after_a_request_carry_no_id(client, json_logs):
    import structlog

    client.get("/healthz", HTTP_X_REQUEST_ID="finished")
    structlog.get_logger("tests.ops").info("after the request")

    (after,) = json_logs.named("after the request")
    assert "request_id" not in after
