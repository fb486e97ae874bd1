"""Fixtures of the alert tests: a workspace with an alerts channel, a deal, and driving the
collect and deliver steps by hand (time given with ``now``, never slept).

Test modules import the fixtures by their function names (``acme_alerts_fixture``); tests ask
for them by fixture name (``acme_alerts``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from hub.bots.alerts import alert_message
from hub.domain.crm.models import DealStage
from hub.domain.crm.services import deal_create
from hub.integrations.slack.alert_delivery import Delivery, slack_alerts_deliver
from hub.integrations.slack.alerts import slack_alerts_collect, slack_alerts_configure
from hub.integrations.slack.models import SlackAlert
from tests.eventlog import event_log_flush
from tests.slack.fake_slack import FakeSlack

ACME_CHANNEL = "CACMEALERTS"
GLOBEX_CHANNEL = "CGLOBEXALERTS"


def collect() -> int:
    """Move committed events into the log (no relay runs in tests), then collect alerts."""
    event_log_flush()
    return slack_alerts_collect()


def deliver(installation, *, now: datetime | None = None) -> Delivery:
    return slack_alerts_deliver(installation.pk, render=alert_message, now=now)


def posts(fake: FakeSlack) -> list[tuple[str, str]]:
    """(channel, text) of each chat.postMessage asked of Slack, in order (refused ones too)."""
    return [
        (seen.body["channel"], seen.body["text"]) for seen in fake.api_calls("chat.postMessage")
    ]


def stage(deal, name: str) -> DealStage:
    return deal.pipeline.stages.get(name=name)


def alerts() -> list[tuple[str, str, str]]:
    return list(SlackAlert.objects.order_by("pk").values_list("kind", "recipient", "status"))


@pytest.fixture(name="acme_alerts")
def acme_alerts_fixture(acme_install):
    """Acme's workspace posting to its alerts channel; the collector's cursor placed now."""
    slack_alerts_configure(installation=acme_install, channel_id=ACME_CHANNEL)
    collect()  # the first run places the cursor at the newest event
    return acme_install


@pytest.fixture(name="alert_deal")
def alert_deal_fixture(acme, alice, acme_alerts):
    deal = deal_create(
        company=acme,
        created_by=alice,
        title="Acme renewal",
        value=Decimal("12500.00"),
        contact_name="Pat Contact",
        contact_email="pat@client.test",
        company_name="Client Ltd",
    )
    collect()
    return deal
