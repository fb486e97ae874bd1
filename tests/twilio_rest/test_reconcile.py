"""Reconciliation of stale calls against the loopback fake of Twilio's REST API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from hub.domain.calls.models import Call, CallStatus
from hub.domain.calls.reconcile import ABANDONED_REASON, calls_reconcile_stale
from hub.workers.calls import calls_reconcile
from tests import factories
from tests.eventlog import logged_events

pytestmark = pytest.mark.django_db

ANSWERED = datetime(2026, 3, 2, 10, 0, 5, tzinfo=UTC)
HUNG_UP = datetime(2026, 3, 2, 10, 1, 40, tzinfo=UTC)


def _call(company, *, status, sid, minutes_old: int) -> Call:
    call = factories.CallFactory(company=company, status=status, twilio_call_sid=sid)
    Call.objects.filter(pk=call.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_old)
    )
    return call


def _twilio_completed(fake, **overrides) -> dict:
    fields = {
        "to": "+14155550199",
        "from_": "+14155550100",
        "status": "completed",
        "start_time": ANSWERED,
        "end_time": HUNG_UP,
        "duration": 95,
        "price": "-0.01300",
    }
    return fake.add_call(**(fields | overrides))


def _fetched(fake) -> list[str]:
    return [path.rsplit("/", 1)[1] for method, path, _ in fake.requests if method == "GET"]


def test_a_stale_in_progress_call_is_corrected_and_fresh_or_final_calls_are_left_alone(
    twilio_settings, fake_twilio, acme
):
    stale = _call(
        acme,
        status=CallStatus.IN_PROGRESS,
        sid=_twilio_completed(fake_twilio)["sid"],
        minutes_old=20,
    )
    fresh = _call(
        acme,
        status=CallStatus.IN_PROGRESS,
        sid=_twilio_completed(fake_twilio)["sid"],
        minutes_old=2,
    )
    final = _call(
        acme, status=CallStatus.BUSY, sid=_twilio_completed(fake_twilio)["sid"], minutes_old=60
    )
    before = logged_events().count()

    summary = calls_reconcile_stale()

    assert (summary.checked, summary.corrected, summary.errors) == (1, 1, 0)
    assert _fetched(fake_twilio) == [f"{stale.twilio_call_sid}.json"]
    stale.refresh_from_db()
    assert (stale.status, stale.duration, stale.start_time, stale.end_time) == (
        CallStatus.COMPLETED,
        95,
        ANSWERED,
        HUNG_UP,
    )
    assert (stale.price, stale.price_unit) == (Decimal("-0.0130"), "USD")
    assert [e.type for e in logged_events().order_by("id")[before:]] == ["call.updated"]
    fresh.refresh_from_db()
    final.refresh_from_db()
    assert (fresh.status, fresh.duration) == (CallStatus.IN_PROGRESS, None)
    assert (final.status, final.duration) == (CallStatus.BUSY, None)


def test_the_age_is_a_setting(twilio_settings, fake_twilio, acme):
    twilio_settings.TWILIO_RECONCILE_AGE_SECONDS = 60
    call = _call(
        acme, status=CallStatus.RINGING, sid=_twilio_completed(fake_twilio)["sid"], minutes_old=2
    )

    assert calls_reconcile_stale().corrected == 1
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED


def test_twilio_reporting_an_earlier_status_never_moves_a_call_back(
    twilio_settings, fake_twilio, acme
):
    remote = _twilio_completed(
        fake_twilio, status="ringing", start_time=None, end_time=None, duration=None, price=None
    )
    call = _call(acme, status=CallStatus.IN_PROGRESS, sid=remote["sid"], minutes_old=20)

    summary = calls_reconcile_stale()

    assert (summary.checked, summary.unchanged, summary.corrected) == (1, 1, 0)
    call.refresh_from_db()
    assert call.status == CallStatus.IN_PROGRESS


def test_a_call_twilio_does_not_know_is_reported_and_left(twilio_settings, fake_twilio, acme):
    call = _call(acme, status=CallStatus.RINGING, sid="CA" + "0" * 32, minutes_old=20)

    summary = calls_reconcile_stale()

    assert (summary.checked, summary.not_found) == (1, 1)
    call.refresh_from_db()
    assert call.status == CallStatus.RINGING


def test_a_placed_call_that_never_got_its_sid_is_failed(twilio_settings, fake_twilio, acme):
    call = _call(acme, status=CallStatus.INITIATED, sid="pending-" + "1" * 32, minutes_old=20)

    summary = calls_reconcile_stale()

    assert summary.abandoned == 1
    assert _fetched(fake_twilio) == []
    call.refresh_from_db()
    assert (call.status, call.notes) == (CallStatus.FAILED, ABANDONED_REASON)


def test_twilio_unreachable_stops_the_run_and_changes_nothing(twilio_settings, closed_port, acme):
    twilio_settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{closed_port}"
    calls = [
        _call(acme, status=CallStatus.RINGING, sid=f"CA{n:032d}", minutes_old=20) for n in range(3)
    ]

    summary = calls_reconcile_stale()

    assert (summary.checked, summary.errors) == (1, 1)
    assert {c.status for c in Call.objects.filter(pk__in=[c.pk for c in calls])} == {"Ringing"}


def test_without_twilio_credentials_nothing_is_asked(settings, acme):
    settings.TWILIO_ACCOUNT_SID = None
    _call(acme, status=CallStatus.RINGING, sid="CA" + "2" * 32, minutes_old=20)

    assert calls_reconcile_stale().errors == 1


def test_nothing_stale_asks_twilio_nothing(settings, acme):
    settings.TWILIO_ACCOUNT_SID = None  # would fail if a client were built
    factories.CallFactory(company=acme, status=CallStatus.RINGING)

    assert calls_reconcile_stale().checked == 0


def test_the_actor_runs_the_reconciliation(twilio_settings, fake_twilio, acme):
    call = _call(
        acme, status=CallStatus.RINGING, sid=_twilio_completed(fake_twilio)["sid"], minutes_old=20
    )

    calls_reconcile()

    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
