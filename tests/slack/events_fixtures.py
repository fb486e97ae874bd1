"""Events API deliveries signed as Slack signs them (JSON bodies), App Home clicks, and calls.

Helpers, not fixtures: the tests of ``/call list``, App Home and unfurls call them with the
fixtures of tests/slack/conftest.py.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.test import Client

from hub.domain.calls.models import Call, CallDirection, CallStatus, PhoneNumber
from tests import factories
from tests.slack.conftest import ACME_TEAM, post_signed, signature
from tests.slack.fake_slack import FakeSlack


def post_event(
    client: Client,
    event: dict[str, Any],
    *,
    team_id: str = ACME_TEAM,
    event_id: str | None = None,
    retry_num: int | None = None,
):
    """POST an ``event_callback`` to /slack/events as the Events API does (JSON, signed).

    ``retry_num``: Slack's retry of a delivery it thinks failed (``X-Slack-Retry-Num``).
    """
    body = json.dumps(
        {
            "token": "deprecated-verification-token",
            "team_id": team_id,
            "api_app_id": "A0HUB0001",
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:12].upper()}",
            "event_time": int(time.time()),
            "event": event,
        }
    )
    timestamp = str(int(time.time()))
    headers = {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(body, timestamp),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return client.post("/slack/events", body, content_type="application/json", headers=headers)


def home_opened(client: Client, user_id: str, *, tab: str = "home", **kwargs):
    event = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": "D" + user_id[1:],
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    return post_event(client, event, **kwargs)


def link_shared(
    client: Client,
    user_id: str,
    urls: list[str],
    *,
    channel: str = "C0SALES01",
    message_ts: str = "1700000000.000500",
    source: str = "conversations_history",
    unfurl_id: str = "C0SALES01.1700000000.000500.abc",
    **kwargs,
):
    event = {
        "type": "link_shared",
        "user": user_id,
        "channel": channel,
        "message_ts": message_ts,
        "source": source,
        "unfurl_id": unfurl_id,
        "is_bot_user_member": True,
        "links": [{"domain": url.split("/")[2], "url": url} for url in urls],
        "event_ts": f"{time.time():.6f}",
    }
    return post_event(client, event, **kwargs)


def home_click(
    client: Client,
    user_id: str,
    action_id: str,
    value: str,
    *,
    team_id: str = ACME_TEAM,
    view_hash: str = "1700000000.abcdef",
):
    """Click a button of App Home: a view, so no message, no channel and no response_url."""
    payload = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "workspace"},
        "user": {"id": user_id, "team_id": team_id},
        "api_app_id": "A0HUB0001",
        "token": "deprecated-verification-token",
        "container": {"type": "view", "view_id": "VHOME0001"},
        "trigger_id": "1.123.abc",
        "view": {"id": "VHOME0001", "type": "home", "hash": view_hash, "blocks": []},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "home",
                "value": value,
                "action_ts": "1700000000.1",
            }
        ],
    }
    return post_signed(client, urlencode({"payload": json.dumps(payload)}))


def published(fake: FakeSlack) -> list[dict[str, Any]]:
    """The bodies of every views.publish the hub made, in order."""
    return [seen.body for seen in fake.api_calls("views.publish")]


def all_text(blocks: list[dict[str, Any]]) -> str:
    """Every text of some blocks, one string: what a reader sees (and the buttons' values)."""
    return json.dumps(blocks, ensure_ascii=False)


def call_row(
    *,
    company,
    number: PhoneNumber | None = None,
    user=None,
    direction: str = CallDirection.INBOUND,
    status: str = CallStatus.COMPLETED,
    other: str = "+14155550177",
    at: datetime | None = None,
    **fields,
) -> Call:
    """A call of ``company`` to or from ``number`` (the far side ``other``), made ``at``."""
    ours = number.phone_number if number else "+14155550100"
    inbound = direction == CallDirection.INBOUND
    call = factories.CallFactory(
        company=company,
        phone_number=number,
        user=user,
        direction=direction,
        status=status,
        from_number=other if inbound else ours,
        to_number=ours if inbound else other,
        **fields,
    )
    if at is not None:
        Call.objects.filter(pk=call.pk).update(created_at=at)
        call.refresh_from_db()
    return call
