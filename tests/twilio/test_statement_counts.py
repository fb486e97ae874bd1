"""How many SQL statements processing one stored status callback costs, on PostgreSQL.

Each callback is stored through the signed webhook, then applied by ``inbox.callback_process``
(what the ``twilio_callback_process`` actor calls for one callback) in a real transaction, as
a worker applies it; the batched drain (``inbox.inbox_drain``) is not counted here. Django logs BEGIN and COMMIT as statements too, so they are counted. The
maxima are the counts measured when they were pinned: a change that adds a statement fails
here; one that saves statements passes, and should lower the maximum.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest
from django.db import connection

from hub.domain.calls.models import Call, CallDirection, CallStatus
from hub.integrations.twilio import inbox
from hub.integrations.twilio.models import TwilioCallback
from tests import factories
from tests.twilio.conftest import call_sid, post, status_params

# The worker's transaction must be a real one (BEGIN ... COMMIT), not a savepoint in the test's.
pytestmark = pytest.mark.django_db(transaction=True)

STATUS = "/twilio/voice/status"

# BEGIN; SELECT the inbox row FOR UPDATE, taking the CallSid's advisory lock in the same
# statement; SELECT the call FOR UPDATE (none yet); SELECT the company number with its owner's
# membership; SELECT the caller's leads, deals and customers (one UNION); SAVEPOINT; INSERT the
# call; RELEASE SAVEPOINT; UPDATE the inbox row as processed; COMMIT. (A matched lead with no
# deal of its own matching costs one more SELECT: the lead's newest deal.)
NEW_CALL_STATEMENTS = 10
# BEGIN; SELECT the inbox row FOR UPDATE (with the advisory lock); SELECT the call FOR UPDATE;
# UPDATE the call; UPDATE the inbox row as processed; COMMIT. (8 before b3753d0, when the call's
# UPDATE had a savepoint of its own.)
KNOWN_CALL_STATEMENTS = 6


@pytest.fixture(autouse=True)
def _postgresql(db):
    if connection.vendor != "postgresql":
        pytest.skip("the counts are PostgreSQL's (SQLite takes no CallSid lock)")


@pytest.fixture
def line(acme, alice, bob):
    """Acme's number +1 415 555 9000, owned by bob; a lead and a deal with the caller's phone."""
    number = factories.PhoneNumberFactory(company=acme, user=bob, phone_number="+14155559000")
    lead = factories.LeadFactory(company=acme, created_by=alice, phone="(415) 555-0100")
    deal = factories.DealFactory(company=acme, created_by=alice, contact_phone="+1 415 555 0100")
    return number, lead, deal


_sequence = count()


def _stored(client, sid: str, status: str, **extra) -> int:
    """Send a signed status callback to the webhook; return the id of the inbox row it stored."""
    before = set(TwilioCallback.objects.values_list("id", flat=True))
    response = post(client, STATUS, status_params(sid, status, next(_sequence), **extra))
    assert response.status_code == 204
    [row_id] = TwilioCallback.objects.exclude(id__in=before).values_list("id", flat=True)
    return row_id


def _processed(callback_id: int) -> TwilioCallback:
    row = TwilioCallback.objects.get(id=callback_id)
    assert row.processed_at is not None and row.attempts == 1 and row.last_error == ""
    return row


def test_a_new_inbound_calls_status_callback(client, line, django_assert_max_num_queries):
    number, lead, deal = line
    sid = call_sid()
    callback_id = _stored(client, sid, "ringing")

    with django_assert_max_num_queries(NEW_CALL_STATEMENTS):
        outcome = inbox.callback_process(callback_id)

    assert outcome == CallStatus.RINGING
    assert _processed(callback_id).outcome == CallStatus.RINGING
    call = Call.objects.get(twilio_call_sid=sid)
    assert (call.company_id, call.phone_number_id, call.user_id) == (
        number.company_id,
        number.id,
        number.user_id,
    )
    assert (call.lead_id, call.deal_id) == (lead.id, deal.id)
    assert (call.direction, call.status) == (CallDirection.INBOUND, CallStatus.RINGING)
    assert (call.from_number, call.to_number) == ("+14155550100", "+14155559000")


def test_a_known_calls_status_callback(client, line, django_assert_max_num_queries):
    sid = call_sid()
    assert inbox.callback_process(_stored(client, sid, "ringing")) == CallStatus.RINGING
    known = Call.objects.get(twilio_call_sid=sid)
    callback_id = _stored(
        client, sid, "completed", CallDuration="65", Timestamp="Wed, 01 May 2024 12:01:07 +0000"
    )

    with django_assert_max_num_queries(KNOWN_CALL_STATEMENTS):
        outcome = inbox.callback_process(callback_id)

    assert outcome == CallStatus.COMPLETED
    assert _processed(callback_id).outcome == CallStatus.COMPLETED
    [call] = Call.objects.filter(twilio_call_sid=sid)
    assert call.id == known.id
    assert (call.status, call.duration) == (CallStatus.COMPLETED, 65)
    assert call.end_time.isoformat() == "2024-05-01T12:01:07+00:00"
    assert call.end_time - call.start_time == timedelta(seconds=65)
