"""The incoming-call webhook outside opening hours: the closed message, then voicemail."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.domain.calls.hours import DAYS, OpeningHours
from hub.integrations.twilio.models import CallbackKind, TwilioCallback
from tests import factories
from tests.twilio.conftest import ACCOUNT_SID, call_sid, post

pytestmark = pytest.mark.django_db

# Monday 2026-11-23: 08:00 and 10:00 in New York.
BEFORE_OPENING = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
DURING_OPENING = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
WEEKDAYS = {day: [["09:00", "17:30"]] for day in ("mon", "tue", "wed", "thu", "fri")}
ACME_IS_CLOSED = (
    "Thank you for calling Acme. We are closed right now. Please leave a message after the tone."
)


def incoming(to: str) -> dict:
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call_sid(),
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": "+14155550100",
        "To": to,
    }


@pytest.fixture
def clock(monkeypatch):
    """Set the time the webhook checks opening hours at."""

    def set_to(at: datetime) -> None:
        monkeypatch.setattr("hub.domain.calls.hours.now", lambda: at)

    return set_to


@pytest.fixture
def number(acme, alice):
    alice.phone = "(415) 555-7777"
    alice.save(update_fields=["phone"])
    return factories.PhoneNumberFactory(company=acme, user=alice)


def answer(client, number) -> str:
    response = post(client, "/twilio/voice/incoming", incoming(number.phone_number))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    return response.content.decode()


def parsed(body: str) -> ElementTree.Element:
    # The hub's own answer in a test, not outside input: the stdlib parser is fine here.
    return ElementTree.fromstring(body.encode())  # noqa: S314


def assert_rings_alice(body: str) -> None:
    [dial] = parsed(body)
    assert dial.tag == "Dial"
    assert dial.attrib["action"] == "https://hub.example.test/twilio/voice/dialed"
    assert [(n.tag, n.text) for n in dial] == [("Number", "+14155557777")]


def assert_closed_voicemail(body: str, message: str) -> None:
    """The caller hears ``message``, then leaves a voicemail; nobody is dialled."""
    response = parsed(body)
    assert [child.tag for child in response] == ["Say", "Record", "Hangup"]
    say, record, _ = response
    assert say.text == message
    assert record.attrib["action"] == "https://hub.example.test/twilio/voice/voicemail"
    assert record.attrib["method"] == "POST"
    assert record.attrib["recordingStatusCallback"] == (
        "https://hub.example.test/twilio/voice/recording"
    )
    assert record.attrib["recordingStatusCallbackMethod"] == "POST"
    assert record.attrib["recordingStatusCallbackEvent"] == "completed"
    assert not list(response.iter("Dial")) and not list(response.iter("Number"))
    assert "+14155557777" not in body


def test_outside_opening_hours_the_caller_hears_the_closed_message_then_voicemail(
    client, acme, number, clock
):
    OpeningHours.objects.create(company=acme, timezone="America/New_York", schedule=WEEKDAYS)
    clock(BEFORE_OPENING)
    assert_closed_voicemail(answer(client, number), ACME_IS_CLOSED)
    assert TwilioCallback.objects.get().kind == CallbackKind.INCOMING

    clock(DURING_OPENING)
    assert_rings_alice(answer(client, number))


def test_the_company_time_zone_decides(client, acme, number, clock):
    OpeningHours.objects.create(company=acme, timezone="Asia/Tokyo", schedule=WEEKDAYS)
    clock(BEFORE_OPENING)  # Monday 22:00 in Tokyo
    assert_closed_voicemail(answer(client, number), ACME_IS_CLOSED)
    clock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # Monday 10:00 in Tokyo
    assert_rings_alice(answer(client, number))


def test_without_hours_or_with_disabled_ones_calls_ring_at_any_hour(client, acme, number, clock):
    clock(datetime(2026, 11, 29, 8, 0, tzinfo=UTC))  # Sunday 03:00 in New York
    assert_rings_alice(answer(client, number))
    OpeningHours.objects.create(
        company=acme, timezone="America/New_York", schedule={}, is_enabled=False
    )
    assert_rings_alice(answer(client, number))
    OpeningHours.objects.update(is_enabled=True)
    assert_closed_voicemail(answer(client, number), ACME_IS_CLOSED)


def near_noon(now: datetime) -> tuple[str, datetime]:
    """A fixed-offset zone where it is 12:xx at ``now``, and the local time there.

    Hours of 11:00 to 14:00 there are open for the next hour at least, whatever the time of
    day the test runs at, and never cross midnight.
    """
    offset = 12 - now.hour  # -11 to +12 hours
    name = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX: Etc/GMT-5 is UTC+5
    local = now.astimezone(ZoneInfo(name))
    assert local.hour == 12
    return name, local


def test_the_real_clock_is_used_when_nothing_is_replaced(client, acme, globex, charlie, number):
    tz, local = near_noon(datetime.now(tz=UTC))
    today = DAYS[local.weekday()]
    # Open only today, around now: a clock two hours off or more, or on another day, is closed.
    OpeningHours.objects.create(company=acme, timezone=tz, schedule={today: [["11:00", "14:00"]]})
    # Closed only today around now: a clock three hours off or more would ring this line.
    theirs = factories.PhoneNumberFactory(company=globex, user=charlie)
    all_week = {day: [["00:00", "24:00"]] for day in DAYS}
    OpeningHours.objects.create(
        company=globex,
        timezone=tz,
        schedule={**all_week, today: [["00:00", "10:00"], ["15:00", "24:00"]]},
    )

    assert_rings_alice(answer(client, number))
    assert_closed_voicemail(
        answer(client, theirs),
        "Thank you for calling Globex. We are closed right now. "
        "Please leave a message after the tone.",
    )


def test_the_closed_message_is_the_companys_own_and_cannot_inject_twiml(
    client, acme, number, clock
):
    OpeningHours.objects.create(
        company=acme,
        timezone="UTC",
        schedule={},
        closed_message='{company} & Sons are out. <Dial>+19995550000</Dial> "bye"',
    )
    clock(DURING_OPENING)
    body = answer(client, number)
    # Escaped in the TwiML, so it is text the caller hears: no <Dial> element rings anyone.
    assert "<Say>Acme &amp; Sons are out. &lt;Dial&gt;+19995550000&lt;/Dial&gt;" in body
    assert_closed_voicemail(body, 'Acme & Sons are out. <Dial>+19995550000</Dial> "bye"')


def test_another_companys_hours_leave_this_line_ringing(client, acme, globex, number, clock):
    OpeningHours.objects.create(company=globex, timezone="UTC", schedule={})
    clock(BEFORE_OPENING)
    assert_rings_alice(answer(client, number))


def test_the_hours_cost_one_small_query_and_none_for_an_unknown_number(client, acme, number, clock):
    OpeningHours.objects.create(company=acme, timezone="America/New_York", schedule=WEEKDAYS)
    clock(BEFORE_OPENING)
    with CaptureQueriesContext(connection) as queries:
        answer(client, number)
    assert len([q for q in queries if "hub_opening_hours" in q["sql"]]) == 1

    with CaptureQueriesContext(connection) as queries:
        body = post(client, "/twilio/voice/incoming", incoming("+14155550000")).content.decode()
    assert "not in service" in body
    assert not [q for q in queries if "hub_opening_hours" in q["sql"]]


def test_hours_set_in_the_admin_by_staff_are_heard_on_the_line(
    client, acme, globex, bob, number, clock
):
    bob.is_staff = True
    bob.save(update_fields=["is_staff"])
    client.force_login(bob)
    form = {
        "company": acme.pk,
        "timezone": "America/New_York",
        "is_enabled": "on",
        "closed_message": "{company} opens at nine.",
        **dict.fromkeys(DAYS, ""),
    }
    refused = client.post("/admin/calls/openinghours/add/", {**form, "mon": "17:00-09:00"})
    assert refused.status_code == 200
    assert "start before" in str(refused.context["adminform"].form.errors["mon"])
    refused = client.post("/admin/calls/openinghours/add/", {**form, "company": globex.pk})
    assert refused.status_code == 200 and not OpeningHours.objects.exists()

    saved = client.post(
        "/admin/calls/openinghours/add/", {**form, "mon": "09:00-12:00, 13:00-17:30"}
    )
    assert saved.status_code == 302
    row = OpeningHours.objects.get(company=acme)
    assert row.schedule["mon"] == [["09:00", "12:00"], ["13:00", "17:30"]]
    assert row.schedule["sun"] == []
    page = client.get(f"/admin/calls/openinghours/{row.pk}/change/").content.decode()
    assert 'value="09:00-12:00, 13:00-17:30"' in page

    clock(BEFORE_OPENING)
    assert_closed_voicemail(answer(client, number), "Acme opens at nine.")
    clock(DURING_OPENING)
    assert_rings_alice(answer(client, number))

    theirs = OpeningHours.objects.create(company=globex, timezone="UTC", schedule={})
    assert client.get(f"/admin/calls/openinghours/{theirs.pk}/change/").status_code in (302, 404)
    listed = client.get("/admin/calls/openinghours/")
    assert list(listed.context["cl"].result_list) == [row]
