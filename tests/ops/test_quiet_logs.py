"""Quiet, useful logs: a refused request is one line, not a traceback; browsers' favicon
requests are answered (no 404 warning on every page); daphne's access log is off where the
hub starts daphne (the structured request line is the one line per request)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.urls("tests.ops.views")
def test_a_403_is_logged_as_one_line_without_a_traceback(client, json_logs):
    response = client.get("/ops-test/forbidden", HTTP_X_REQUEST_ID="req-403")

    assert response.status_code == 403
    forbidden = [r for r in json_logs.records() if r["event"].startswith("Forbidden")]
    assert len(forbidden) == 1
    assert forbidden[0]["request_id"] == "req-403"
    assert "exception" not in forbidden[0] and "Traceback" not in json_logs.text
    (summary,) = json_logs.named("request")
    assert summary["status"] == 403


@pytest.mark.urls("tests.ops.views")
def test_a_500_keeps_its_traceback(client, json_logs):
    client.raise_request_exception = False
    response = client.get("/ops-test/fail")

    assert response.status_code == 500
    assert "Traceback" in json_logs.text


def test_the_favicon_is_served_without_a_warning(client, json_logs):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert b"".join(response).startswith(b"\x00\x00\x01\x00")  # an ICO file
    assert "max-age" in response["Cache-Control"]
    assert not [r for r in json_logs.records() if r.get("level") == "warning"]


@pytest.mark.parametrize("path", ["Procfile", "Makefile"])
def test_daphne_runs_without_its_access_log(path):
    lines = [line for line in (ROOT / path).read_text().splitlines() if "daphne " in line]
    assert lines
    assert all(re.search(r"\s-v 0\s", line) for line in lines), lines
