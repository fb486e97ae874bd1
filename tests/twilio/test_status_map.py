"""The Twilio status table and call_status_merge on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from hub.domain.calls.models import CallStatus
from hub.domain.calls.twilio_status import (
    TERMINAL,
    TWILIO_CALL_STATUS,
    call_status_merge,
    status_rank,
    twilio_status_map,
)
from tests import factories

pytestmark = pytest.mark.django_db


def test_every_twilio_status_maps_to_a_schema_value():
    for twilio, ours in TWILIO_CALL_STATUS.items():
        assert ours in CallStatus.values, twilio
    assert twilio_status_map("In-Progress") == CallStatus.IN_PROGRESS
    assert twilio_status_map("no-answer") == CallStatus.NO_ANSWER
    assert twilio_status_map("canceled") == CallStatus.CANCELLED
    assert twilio_status_map("bogus") is None
    assert status_rank(CallStatus.INITIATED) < status_rank(CallStatus.RINGING)
    assert status_rank(CallStatus.RINGING) < status_rank(CallStatus.IN_PROGRESS)
    assert all(status_rank(CallStatus.IN_PROGRESS) < status_rank(t) for t in TERMINAL)


def test_status_moves_forward_only_and_terminal_is_final(acme):
    call = factories.CallFactory(company=acme)
    assert call_status_merge(call=call, twilio_status="ringing")
    assert call.status == CallStatus.RINGING
    assert not call_status_merge(call=call, twilio_status="initiated")
    started = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert call_status_merge(
        call=call, twilio_status="completed", duration=42, end_time=started + timedelta(seconds=42)
    )
    assert not call_status_merge(call=call, twilio_status="in-progress")
    assert not call_status_merge(call=call, twilio_status="busy")
    assert call_status_merge(call=call, twilio_status="in-progress", start_time=started)
    call.refresh_from_db()
    assert (call.status, call.duration, call.start_time) == (CallStatus.COMPLETED, 42, started)


def test_price_first_report_wins_and_unknown_status_changes_nothing(acme):
    call = factories.CallFactory(company=acme)
    assert call_status_merge(
        call=call, twilio_status="completed", price=Decimal("-0.0130"), price_unit="usd"
    )
    assert not call_status_merge(call=call, twilio_status="completed", price=Decimal("-9"))
    assert not call_status_merge(call=call, twilio_status="teleported")
    call.refresh_from_db()
    assert (call.price, call.price_unit) == (Decimal("-0.0130"), "USD")
