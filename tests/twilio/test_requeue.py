"""Inbox rows that ran out of attempts are processed again from the console, once each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from hub.domain.calls.models import Call
from hub.integrations.twilio import inbox
from hub.integrations.twilio.models import TwilioCallback
from hub.workers.twilio import twilio_callback_process
from tests import factories
from tests.twilio.conftest import call_sid, status_params

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = reverse("admin:hub_twilio_twiliocallback_changelist")


def _row(sid: str, status: str = "ringing", sequence: int = 0) -> TwilioCallback:
    return inbox.callback_store(
        kind="status",
        params=status_params(sid, status, sequence),
        call_sid=sid,
        sequence_number=sequence,
    )


def _process_again(client, rows):
    return client.post(
        CHANGELIST,
        {"action": "process_again", "_selected_action": [row.pk for row in rows]},
        follow=True,
    )


def test_rows_out_of_attempts_are_applied_once_the_cause_is_mended(brokers, acme, alice):
    # Callbacks for a number nobody held yet failed or were given up on.
    stuck, gave_up, applied = (_row(call_sid()) for _ in range(3))
    TwilioCallback.objects.filter(pk=stuck.pk).update(
        attempts=inbox.MAX_ATTEMPTS, last_error="OperationalError: the database went away"
    )
    TwilioCallback.objects.filter(pk=gave_up.pk).update(attempts=inbox.MAX_ATTEMPTS)
    inbox._give_up(gave_up.pk, "call not known yet")
    number = factories.PhoneNumberFactory(company=acme, user=alice, phone_number="+14155559000")
    assert inbox.callback_process(applied.pk) == "Ringing"
    # Stuck rows are past the sweeper's reach.
    assert inbox.inbox_sweep(enqueue=lambda pk: None, min_age=timedelta(0)) == 0

    superuser = factories.UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)
    broker = twilio_callback_process.broker
    response = _process_again(client, [stuck, gave_up, applied])
    # Reset: the rows get a full round of attempts again.
    assert {
        row.pk: (row.attempts, row.processed_at, row.outcome)
        for row in TwilioCallback.objects.filter(pk__in=[stuck.pk, gave_up.pk])
    } == {stuck.pk: (0, None, ""), gave_up.pk: (0, None, "")}
    with brokers.worker(broker):
        broker.join(twilio_callback_process.queue_name, timeout=30_000, fail_fast=True)

    page = response.content.decode()
    assert "2 callback(s) queued to be processed again." in page
    assert "1 callback(s) were applied already and were left alone." in page
    calls = Call.objects.filter(phone_number=number)
    assert sorted(calls.values_list("twilio_call_sid", flat=True)) == sorted(
        [stuck.call_sid, gave_up.call_sid, applied.call_sid]
    )
    for row in TwilioCallback.objects.all():
        assert (row.processed_at is not None, row.outcome, row.last_error) == (True, "Ringing", "")
    assert TwilioCallback.objects.get(pk=applied.pk).attempts == 1


def test_only_superusers_may_process_again(brokers, acme, alice):
    row = _row(call_sid())
    TwilioCallback.objects.filter(pk=row.pk).update(attempts=inbox.MAX_ATTEMPTS)
    staff = factories.UserFactory(is_staff=True)
    client = Client()
    client.force_login(staff)
    assert _process_again(client, [row]).status_code == 403
    assert TwilioCallback.objects.get(pk=row.pk).attempts == inbox.MAX_ATTEMPTS


def test_with_the_broker_down_the_rows_are_reset_for_the_sweeper(brokers, acme, alice):
    row = _row(call_sid())
    TwilioCallback.objects.filter(pk=row.pk).update(attempts=inbox.MAX_ATTEMPTS)
    brokers.down()
    client = Client()
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))

    response = _process_again(client, [row])

    assert response.status_code == 200
    assert TwilioCallback.objects.get(pk=row.pk).attempts == 0
    swept: list[int] = []
    assert inbox.inbox_sweep(enqueue=swept.append, min_age=timedelta(0)) == 1
    assert swept == [row.pk]
