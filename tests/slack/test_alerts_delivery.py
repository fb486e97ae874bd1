"""Posting alerts: in order, a 429 waited out (never dropped), a lost channel reported and not
retried forever, DMs found by e-mail, a crashed worker's alert taken again; and the actors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from hub.domain.crm.services import deal_assign, deal_mark_won, deal_move
from hub.integrations.slack.alert_delivery import SENDING_LEASE
from hub.integrations.slack.alerts import slack_alerts_configure
from hub.integrations.slack.models import AlertKind, AlertStatus, SlackAlert, SlackUserLink
from hub.workers.slack_alerts import slack_alerts_collect
from tests import factories
from tests.eventlog import event_log_flush
from tests.slack.alerts_fixtures import (  # noqa: F401 (fixtures)
    ACME_CHANNEL,
    acme_alerts_fixture,
    alert_deal_fixture,
    collect,
    deliver,
    posts,
    stage,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the triggers and relay of PostgreSQL"
    ),
]


def moved(deal, *names: str) -> None:
    for name in names:
        deal_move(deal=deal, stage=stage(deal, name))
        event_log_flush()
    collect()


def statuses() -> list[str]:
    return list(SlackAlert.objects.order_by("pk").values_list("status", flat=True))


def test_a_429_is_waited_out_and_the_alerts_after_it_wait_too(acme_alerts, alert_deal, fake_slack):
    moved(alert_deal, "Qualification", "Proposal")
    first, _ = SlackAlert.objects.order_by("pk")
    fake_slack.queue("chat.postMessage", retry_after=7)
    t0 = timezone.now()

    result = deliver(acme_alerts, now=t0)

    assert result.retry_in == 7 and result.sent == 0
    first.refresh_from_db()
    assert (first.status, first.attempts) == (AlertStatus.PENDING, 0)  # a 429 is no attempt
    assert first.next_attempt_at == t0 + timedelta(seconds=7)
    assert "rate-limited" in first.last_error
    assert statuses() == ["pending", "pending"]
    assert len(posts(fake_slack)) == 1  # the refused one; the second was not tried

    # Before the wait is over nothing moves, not even the later alert.
    early = deliver(acme_alerts, now=t0 + timedelta(seconds=3))
    assert early.retry_in == pytest.approx(4)
    assert len(posts(fake_slack)) == 1

    done = deliver(acme_alerts, now=t0 + timedelta(seconds=7))

    assert done.sent == 2 and done.retry_in is None
    texts = [text for _, text in posts(fake_slack)]
    assert "Qualification" in texts[1] and "Proposal" in texts[2]
    assert statuses() == ["sent", "sent"]


def test_a_channel_the_bot_was_removed_from_fails_is_reported_and_not_retried(
    acme_alerts, alert_deal, fake_slack, bob
):
    fake_slack.users["UBOB0001"] = bob.email
    moved(alert_deal, "Proposal")
    deal_assign(deal=alert_deal, assignee=bob)
    collect()
    fake_slack.queue("chat.postMessage", error="not_in_channel")

    result = deliver(acme_alerts)

    # The channel's alert failed; the DM after it went on.
    assert (result.failed, result.sent) == (1, 1)
    assert statuses() == ["failed", "sent"]
    failed = SlackAlert.objects.get(kind=AlertKind.DEAL_MOVED)
    assert "not a member of channel" in failed.last_error
    acme_alerts.refresh_from_db()
    assert acme_alerts.alerts_channel_error.startswith(
        f"The bot is not a member of channel {ACME_CHANNEL}"
    )
    asked = len(fake_slack.api_calls("chat.postMessage"))
    deliver(acme_alerts, now=timezone.now() + timedelta(days=1))
    assert len(fake_slack.api_calls("chat.postMessage")) == asked

    # An alert that gets through again clears what the console showed.
    moved(alert_deal, "Negotiation")
    deliver(acme_alerts)
    acme_alerts.refresh_from_db()
    assert acme_alerts.alerts_channel_error == ""


@pytest.mark.parametrize("code", ["channel_not_found", "is_archived", "invalid_channel"])
def test_other_lost_channels_fail_with_their_reason(acme_alerts, alert_deal, fake_slack, code):
    moved(alert_deal, "Proposal")
    fake_slack.queue("chat.postMessage", error=code)

    deliver(acme_alerts)

    assert statuses() == ["failed"]
    acme_alerts.refresh_from_db()
    assert ACME_CHANNEL in acme_alerts.alerts_channel_error


def test_an_assignment_is_a_dm_found_by_e_mail_then_by_the_stored_link(
    acme_alerts, alert_deal, fake_slack, bob
):
    fake_slack.users["UBOB0001"] = bob.email.upper()
    deal_assign(deal=alert_deal, assignee=bob)
    collect()

    deliver(acme_alerts)

    [lookup] = fake_slack.api_calls("users.lookupByEmail")
    assert lookup.body["email"] == bob.email
    [opened] = fake_slack.api_calls("conversations.open")
    assert opened.body["users"] == "UBOB0001"
    [(channel, text)] = posts(fake_slack)
    assert channel == "DBOB0001"
    assert "A deal was assigned to you" in text and "Acme renewal" in text
    assert SlackUserLink.objects.get(installation=acme_alerts).slack_user_id == "UBOB0001"

    deal_assign(deal=alert_deal, assignee=None)
    deal_assign(deal=alert_deal, assignee=bob)
    collect()
    deliver(acme_alerts)

    assert len(fake_slack.api_calls("users.lookupByEmail")) == 1  # the link was used
    assert [c for c, _ in posts(fake_slack)] == ["DBOB0001", "DBOB0001"]


def test_a_member_without_a_slack_user_is_skipped_saying_why(
    acme_alerts, alert_deal, fake_slack, bob
):
    deal_assign(deal=alert_deal, assignee=bob)
    collect()

    result = deliver(acme_alerts)

    assert result.skipped == 1
    alert = SlackAlert.objects.get()
    assert alert.status == AlertStatus.SKIPPED
    assert bob.email in alert.last_error
    assert posts(fake_slack) == []


def test_a_crashed_delivery_is_taken_again_once_its_lease_is_over(
    acme_alerts, alert_deal, fake_slack
):
    moved(alert_deal, "Proposal")
    now = timezone.now()
    # A worker claimed it, then died before it recorded anything.
    SlackAlert.objects.update(status=AlertStatus.SENDING, attempts=1, next_attempt_at=now)

    busy = deliver(acme_alerts, now=now - SENDING_LEASE / 2)

    assert busy.busy and posts(fake_slack) == []

    taken = deliver(acme_alerts, now=now + timedelta(seconds=1))

    assert taken.sent == 1
    alert = SlackAlert.objects.get()
    assert (alert.status, alert.attempts) == (AlertStatus.SENT, 2)
    assert len(posts(fake_slack)) == 1


def test_other_errors_back_off_then_fail(acme_alerts, alert_deal, fake_slack, settings):
    settings.HUB_SLACK_ALERT_MAX_ATTEMPTS = 2
    moved(alert_deal, "Proposal")
    fake_slack.queue("chat.postMessage", error="internal_error")
    fake_slack.queue("chat.postMessage", error="internal_error")
    t0 = timezone.now()

    first = deliver(acme_alerts, now=t0)

    alert = SlackAlert.objects.get()
    assert (alert.status, alert.attempts) == (AlertStatus.PENDING, 1)
    assert alert.next_attempt_at == t0 + timedelta(seconds=first.retry_in)
    assert "internal_error" in alert.last_error

    deliver(acme_alerts, now=alert.next_attempt_at)

    alert.refresh_from_db()
    assert (alert.status, alert.attempts) == (AlertStatus.FAILED, 2)
    assert alert.last_error.startswith("Gave up after 2 attempts")


def test_alerts_not_posted_yet_follow_the_channel_and_switches_of_now(
    acme_alerts, alert_deal, acme, fake_slack
):
    moved(alert_deal, "Qualification", "Proposal")
    deal_mark_won(deal=alert_deal)
    collect()
    slack_alerts_configure(
        installation=acme_alerts, channel_id="C0NEWALERTS", kinds_off=["deal_won"]
    )

    deliver(acme_alerts)

    assert [channel for channel, _ in posts(fake_slack)] == ["C0NEWALERTS", "C0NEWALERTS"]
    assert statuses() == ["sent", "sent", "skipped"]
    moved(factories.DealFactory(company=acme), "Negotiation")
    slack_alerts_configure(installation=acme_alerts, channel_id="")

    deliver(acme_alerts)

    assert len(posts(fake_slack)) == 2
    assert SlackAlert.objects.order_by("pk").last().last_error == (
        "The workspace has no alerts channel now."
    )


def test_a_workspace_switched_off_posts_nothing(acme_alerts, alert_deal, fake_slack):
    moved(alert_deal, "Proposal")
    acme_alerts.is_active = False
    acme_alerts.save(update_fields=["is_active"])

    deliver(acme_alerts)

    assert statuses() == ["skipped"]
    assert posts(fake_slack) == []


@pytest.mark.django_db(transaction=True)
def test_the_actors_collect_and_post(acme_alerts, alert_deal, fake_slack, worker):
    moved(alert_deal, "Proposal")  # collected here already; one more move for the actor
    deal_move(deal=alert_deal, stage=stage(alert_deal, "Negotiation"))
    event_log_flush()

    slack_alerts_collect.send()
    worker.drain()

    texts = [text for _, text in posts(fake_slack)]
    assert len(texts) == 2
    assert "Proposal" in texts[0] and "Negotiation" in texts[1]
    assert statuses() == ["sent", "sent"]
