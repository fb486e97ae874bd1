"""Slack end to end through the real processes: a ``/deal`` command signed as Slack signs it,
POSTed over HTTP to daphne; the change's alert found by the triggers, logged by the relay,
collected by the scheduler's job on a real Dramatiq worker (Redis broker) and posted to a
loopback fake of Slack's Web API. Nothing is mocked inside the hub."""

# ruff: noqa: F811 (the fixtures imported from slack_live_fixtures are these tests' arguments)
from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from hub.domain.crm.models import Activity, Deal
from hub.domain.events.models import Event
from hub.integrations.slack.models import AlertKind, AlertStatus, SlackAlert
from tests.live.slack_live_fixtures import (  # noqa: F401 (fixtures)
    ALERTS_CHANNEL,
    AcmeSlack,
    acme_slack,
    alert_posts,
    collect_runs,
    command_body,
    slack_hub,
    slack_post,
)
from tests.slack.deal_fixtures import blocks_text, deal, stages

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]


def renewal(acme, title: str) -> Deal:
    return deal(acme, title, "Qualification", value=Decimal("12500.00"))


def stage_name(record: Deal) -> str:
    return Deal.objects.select_related("stage").get(pk=record.pk).stage.name


def moved_alerts(record: Deal) -> list[SlackAlert]:
    return list(
        SlackAlert.objects.filter(kind=AlertKind.DEAL_MOVED, payload__id=record.pk).order_by("pk")
    )


def sent_once(ctx: AcmeSlack, record: Deal) -> SlackAlert:
    """The deal's one "deal moved" alert, once it is sent."""
    [alert] = ctx.hub.wait(
        lambda: [a for a in moved_alerts(record) if a.status == AlertStatus.SENT],
        what=f"the alert of deal #{record.pk} to be marked sent",
    )
    return alert


def test_a_signed_deal_move_answers_with_the_card_and_alerts_the_channel_once(acme_slack, acme):
    hub, fake = acme_slack.hub, acme_slack.hub.fake
    record = renewal(acme, "Umbrella renewal")

    reply = slack_post(hub, command_body(fake, f"move {record.pk} proposal"))

    assert reply.status == 200, reply.body
    assert reply.seconds < 3, f"Slack gives up after 3 s; daphne answered in {reply.seconds:.2f} s"
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    assert body["text"] == f"Moved #{record.pk} Umbrella renewal from Qualification to Proposal."
    card = blocks_text(body["blocks"])
    assert "Umbrella renewal" in card and "Proposal · 50%" in card
    assert stage_name(record) == "Proposal"

    [post] = fake.wait_for(lambda: alert_posts(fake, record), timeout=15)
    assert post.body["channel"] == ALERTS_CHANNEL
    assert post.token == "xoxb-acme-0001"
    text = post.body["text"]
    assert "Deal moved" in text and "is now in *Proposal*" in text and "$12,500" in text
    alert = sent_once(acme_slack, record)
    assert alert.recipient == f"channel:{ALERTS_CHANNEL}" and alert.message_ts

    collect_runs(hub, acme_slack.alice, 2)
    assert len(alert_posts(fake, record)) == 1
    assert len(moved_alerts(record)) == 1


def test_a_deal_moved_by_plain_sql_is_alerted_once(acme_slack, acme):
    hub, fake = acme_slack.hub, acme_slack.hub.fake
    record = renewal(acme, "Initech expansion")
    negotiation = stages(acme)["Negotiation"]

    # Another program's write: no hub code runs in this transaction, only the triggers.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE crm_deal SET stage_id = %s, probability = %s WHERE id = %s",
            [negotiation.pk, negotiation.probability, record.pk],
        )

    [post] = fake.wait_for(lambda: alert_posts(fake, record), timeout=15)
    assert post.body["channel"] == ALERTS_CHANNEL
    assert "Deal moved" in post.body["text"] and "is now in *Negotiation*" in post.body["text"]
    sent_once(acme_slack, record)
    collect_runs(hub, acme_slack.alice, 2)
    assert len(alert_posts(fake, record)) == 1
    assert len(moved_alerts(record)) == 1


def test_a_forged_request_is_refused_and_changes_nothing(acme_slack, acme):
    hub, fake = acme_slack.hub, acme_slack.hub.fake
    record = renewal(acme, "Hooli pilot")
    body = command_body(fake, f"move {record.pk} proposal")
    stale = str(int(time.time()) - 10 * 60)

    forged = {
        "another secret": slack_post(hub, body, secret="an-attacker-signing-secret"),
        "a body changed after signing": slack_post(
            hub,
            command_body(fake, f"move {record.pk} negotiation"),
            signed_body=body,
        ),
        "a replay 10 minutes late": slack_post(hub, body, timestamp=stale),
    }

    for name, reply in forged.items():
        assert reply.status == 401, (name, reply.status, reply.body)
        assert b"Moved" not in reply.body, name
    collect_runs(hub, acme_slack.alice, 1)
    assert stage_name(record) == "Qualification"
    assert not Activity.objects.filter(deal=record).exists()
    assert not Event.objects.filter(type="deal.updated", payload__id=record.pk).exists()
    assert moved_alerts(record) == [] and alert_posts(fake, record) == []


def test_a_rate_limited_alert_waits_its_retry_after_and_arrives_once(acme_slack, acme):
    hub, fake = acme_slack.hub, acme_slack.hub.fake
    record = renewal(acme, "Stark upgrade")
    fake.queue("chat.postMessage", retry_after=1)

    reply = slack_post(hub, command_body(fake, f"move {record.pk} proposal"))
    assert reply.status == 200 and reply.json()["text"].startswith(f"Moved #{record.pk} ")

    limited, delivered = fake.wait_for(
        lambda: len(posts := alert_posts(fake, record)) >= 2 and posts, timeout=20
    )
    assert not fake.queued["chat.postMessage"], "the 429 was not the alert's first try"
    # The fake answered the first with a 429 and Retry-After: 1; the worker waited that long.
    assert delivered.at - limited.at >= 0.9
    assert delivered.body["text"] == limited.body["text"]
    alert = sent_once(acme_slack, record)
    assert (alert.attempts, alert.last_error) == (1, "")

    collect_runs(hub, acme_slack.alice, 2)
    assert len(alert_posts(fake, record)) == 2  # the refused one and the one posted
    assert len(moved_alerts(record)) == 1
