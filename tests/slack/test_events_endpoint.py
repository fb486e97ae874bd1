"""``/slack/events`` takes only requests signed with the signing secret, and only recently."""

from __future__ import annotations

import time

import pytest
from slack_sdk.signature import SignatureVerifier

from hub.domain.calls.models import Call
from hub.integrations.slack.models import SlackUserLink
from tests.slack.conftest import SIGNING_SECRET, signature

pytestmark = pytest.mark.django_db(transaction=True)


def test_our_signatures_are_the_ones_slack_sdk_verifies():
    body, timestamp = "command=%2Fcall&text=hello", str(int(time.time()))
    verifier = SignatureVerifier(SIGNING_SECRET)
    assert signature(body, timestamp) == verifier.generate_signature(timestamp=timestamp, body=body)
    headers = {
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": signature(body, timestamp),
    }
    assert verifier.is_valid_request(body, headers)


def _nothing_happened(worker, fake_slack) -> None:
    assert worker.queued() == 0
    assert fake_slack.requests == []
    assert not Call.objects.exists()
    assert not SlackUserLink.objects.exists()


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"sign": "v0=" + "0" * 64}, id="forged signature"),
        pytest.param({"sign": None, "headers": False}, id="no signature headers"),
        # Offsets from the time the test runs (a timestamp taken at collection ages meanwhile).
        pytest.param({"timestamp": -6 * 60}, id="stale timestamp"),
        pytest.param({"timestamp": 6 * 60}, id="future timestamp"),
        pytest.param({"timestamp": "yesterday"}, id="malformed timestamp"),
    ],
)
def test_an_unverified_command_is_refused_401_and_nothing_happens(
    alice_slack, alice_number, worker, fake_slack, tamper
):
    if isinstance(tamper.get("timestamp"), int):
        tamper = {**tamper, "timestamp": str(int(time.time()) + tamper["timestamp"])}
    response = alice_slack.command("+14155550123", **tamper)

    assert response.status_code == 401
    _nothing_happened(worker, fake_slack)


def test_a_request_signed_with_another_secret_is_refused(
    alice_slack, alice_number, worker, fake_slack, settings
):
    settings.SLACK_SIGNING_SECRET = "another-apps-secret"
    assert alice_slack.command("+14155550123").status_code == 401
    _nothing_happened(worker, fake_slack)


def test_a_signed_body_changed_in_transit_is_refused(client, worker, fake_slack, acme_install):
    timestamp = str(int(time.time()))
    signed = signature("team_id=TACME0001&command=%2Fcall&text=%2B14155550123", timestamp)
    response = client.post(
        "/slack/events",
        "team_id=TACME0001&command=%2Fcall&text=%2B14155550999",
        content_type="application/x-www-form-urlencoded",
        headers={"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signed},
    )
    assert response.status_code == 401
    _nothing_happened(worker, fake_slack)


def test_without_a_signing_secret_the_endpoint_is_off_and_says_why(
    alice_slack, alice_number, worker, fake_slack, settings
):
    settings.SLACK_SIGNING_SECRET = None

    response = alice_slack.command("+14155550123")

    assert response.status_code == 503
    assert "SLACK_SIGNING_SECRET" in response.content.decode()
    _nothing_happened(worker, fake_slack)


def test_only_post_is_served(client):
    assert client.get("/slack/events").status_code == 405


def test_the_url_verification_challenge_is_answered(client):
    body = '{"token":"x","challenge":"c0ffee","type":"url_verification"}'
    timestamp = str(int(time.time()))
    response = client.post(
        "/slack/events",
        body,
        content_type="application/json",
        headers={
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature(body, timestamp),
        },
    )
    assert response.status_code == 200
    assert response.json() == {"challenge": "c0ffee"}


def test_a_signed_request_works_without_a_csrf_token_or_session(alice_slack, alice_number, worker):
    # The test client skips CSRF checks unless asked; Slack never sends a CSRF token.
    from django.test import Client

    alice_slack.client = Client(enforce_csrf_checks=True)
    response = alice_slack.command("+14155550123")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert worker.queued() == 1


def test_served_through_the_asgi_handler_as_daphne_serves_it(
    alice_slack, alice_number, worker, fake_slack
):
    from urllib.parse import urlencode

    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    body = urlencode(
        {
            "team_id": alice_slack.team_id,
            "user_id": alice_slack.user_id,
            "channel_id": "C0SALES01",
            "command": "/call",
            "text": "+14155550123",
            "response_url": fake_slack.response_url("asgi"),
        }
    )
    timestamp = str(int(time.time()))
    headers = {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(body, timestamp),
        "X-Request-ID": "slack-req-1",
    }
    post = AsyncClient().post
    response = async_to_sync(post)(
        "/slack/events", body, content_type="application/x-www-form-urlencoded", headers=headers
    )

    assert response.status_code == 200
    assert response.json()["text"] == "Calling +14155550123 from +14155550100…"
    assert response["X-Request-ID"] == "slack-req-1"
    assert "Set-Cookie" not in response
    assert worker.queued() == 1

    forged = headers | {"X-Slack-Signature": "v0=" + "1" * 64}
    response = async_to_sync(post)(
        "/slack/events", body, content_type="application/x-www-form-urlencoded", headers=forged
    )
    assert response.status_code == 401
    assert worker.queued() == 1
