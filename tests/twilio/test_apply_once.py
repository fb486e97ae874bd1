"""A stored callback applied already is not applied again, however often its job runs."""

from __future__ import annotations

import pytest

from hub.domain.calls.models import Call, CallStatus
from hub.integrations.twilio import inbox
from hub.integrations.twilio.models import TwilioCallback
from tests import factories
from tests.eventlog import logged_events
from tests.twilio.conftest import call_sid, status_params


@pytest.mark.django_db
def test_a_callback_applied_already_is_left_alone(acme, bob):
    factories.PhoneNumberFactory(company=acme, user=bob, phone_number="+14155559000")
    params = status_params(call_sid(), "ringing", 0)
    row = inbox.callback_store(
        kind="status", params=params, call_sid=params["CallSid"], sequence_number=0
    )
    assert inbox.callback_process(row.pk) == CallStatus.RINGING
    events = logged_events().count()

    assert inbox.callback_process(row.pk) is None

    row.refresh_from_db()
    assert (row.attempts, row.outcome) == (1, CallStatus.RINGING)
    assert Call.objects.get().status == CallStatus.RINGING
    assert logged_events().count() == events
    assert TwilioCallback.objects.count() == 1
