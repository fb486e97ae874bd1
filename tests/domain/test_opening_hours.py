"""Opening hours: open or closed at a given instant, in the company's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from hub.domain.calls.hours import DEFAULT_CLOSED_MESSAGE, OpeningHours, opening_hours_find

pytestmark = pytest.mark.django_db

WEEKDAYS = {day: [["09:00", "12:00"], ["13:00", "17:30"]] for day in ("mon", "tue", "wed")}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def line_is_open(company_id: int, at: datetime) -> bool:
    """Decide as the incoming-call webhook does: no enabled hours, or within them, rings."""
    hours = opening_hours_find(company_id=company_id)
    return hours is None or hours.is_open(at)


def hours(company, schedule, tz="America/New_York", **fields) -> OpeningHours:
    row = OpeningHours(company=company, timezone=tz, schedule=schedule, **fields)
    row.full_clean()
    row.save()
    return row


def test_without_a_row_or_with_a_disabled_one_the_line_is_always_open(acme, globex):
    sunday_night = utc(2026, 11, 29, 3, 0)
    assert line_is_open(acme.id, sunday_night)
    assert opening_hours_find(company_id=acme.id) is None

    hours(globex, {}, is_enabled=False)
    assert line_is_open(globex.id, sunday_night)
    assert opening_hours_find(company_id=globex.id) is None


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (utc(2026, 11, 23, 13, 59), False),  # Monday 08:59 EST
        (utc(2026, 11, 23, 14, 0), True),  # 09:00: a range includes its start
        (utc(2026, 11, 23, 16, 59), True),  # 11:59
        (utc(2026, 11, 23, 17, 0), False),  # 12:00: lunch, a range excludes its end
        (utc(2026, 11, 23, 18, 0), True),  # 13:00
        (utc(2026, 11, 23, 22, 29, 59), True),  # 17:29:59
        (utc(2026, 11, 23, 22, 30), False),  # 17:30
        (utc(2026, 11, 24, 3, 0), False),  # Monday 22:00 EST is already Tuesday in UTC
        (utc(2026, 11, 26, 15, 0), False),  # Thursday 10:00: no ranges that day
    ],
)
def test_ranges_are_read_in_the_company_time_zone(acme, at, is_open):
    hours(acme, WEEKDAYS)
    assert line_is_open(acme.id, at) is is_open


def test_one_instant_two_time_zones(acme, globex):
    schedule = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    hours(acme, schedule, tz="Europe/Berlin")
    hours(globex, schedule, tz="Asia/Tokyo")
    at = utc(2026, 11, 24, 9, 0)  # Tuesday: 10:00 in Berlin, 18:00 in Tokyo
    assert line_is_open(acme.id, at)
    assert not line_is_open(globex.id, at)
    assert line_is_open(globex.id, at - timedelta(hours=2))


def test_spring_forward_moves_the_opening_an_hour_earlier_in_utc(acme):
    hours(acme, {"sun": [["09:00", "17:00"]]}, tz="Europe/Berlin")
    # 2026-03-29 02:00 CET became 03:00 CEST: 07:30 UTC is 09:30 there, a week before 08:30.
    assert line_is_open(acme.id, utc(2026, 3, 29, 7, 30))
    assert not line_is_open(acme.id, utc(2026, 3, 22, 7, 30))
    assert not line_is_open(acme.id, utc(2026, 3, 29, 15, 0))  # 17:00 CEST
    assert line_is_open(acme.id, utc(2026, 3, 22, 15, 0))  # 16:00 CET


def test_fall_back_keeps_the_repeated_hour_open_both_times(acme):
    hours(acme, {"sun": [["01:00", "02:00"]]})
    # 2026-11-01 in New York: 01:00-02:00 happens at 05:00 UTC (EDT) and again at 06:00 (EST).
    assert not line_is_open(acme.id, utc(2026, 11, 1, 4, 59))
    assert line_is_open(acme.id, utc(2026, 11, 1, 5, 30))
    assert line_is_open(acme.id, utc(2026, 11, 1, 6, 30))
    assert not line_is_open(acme.id, utc(2026, 11, 1, 7, 0))


def test_a_range_may_end_at_midnight_and_the_next_day_starts_afresh(acme):
    hours(acme, {"fri": [["18:00", "24:00"]], "sat": [["00:00", "01:00"]]}, tz="UTC")
    assert line_is_open(acme.id, utc(2026, 11, 27, 23, 59, 59))
    assert line_is_open(acme.id, utc(2026, 11, 28, 0, 30))
    assert not line_is_open(acme.id, utc(2026, 11, 28, 1, 0))
    assert not line_is_open(acme.id, utc(2026, 11, 27, 17, 59))


def test_a_day_without_ranges_is_closed_all_day(acme):
    hours(acme, {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")})
    sunday = utc(2026, 11, 29, 5, 0)  # Sunday 00:00 in New York
    minutes = range(0, 24 * 60, 7)
    assert not any(line_is_open(acme.id, sunday + timedelta(minutes=m)) for m in minutes)
    assert line_is_open(acme.id, sunday - timedelta(minutes=1))  # Saturday 23:59
    assert line_is_open(acme.id, sunday + timedelta(days=1))  # Monday 00:00


def test_another_companys_hours_do_not_apply(acme, globex):
    hours(globex, {})
    monday_noon = utc(2026, 11, 23, 17, 0)
    assert not line_is_open(globex.id, monday_noon)
    assert line_is_open(acme.id, monday_noon)


@pytest.mark.parametrize(
    ("schedule", "fragment"),
    [
        ({"mon": [["9:00", "17:00"]]}, "HH:MM"),
        ({"mon": [["09:00", "25:00"]]}, "HH:MM"),
        ({"mon": [["24:00", "24:00"]]}, "HH:MM"),
        ({"mon": [["09:60", "10:00"]]}, "HH:MM"),
        ({"mon": [["17:00", "09:00"]]}, "start before"),
        ({"mon": [["09:00", "09:00"]]}, "start before"),
        ({"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}, "overlap"),
        ({"mon": [["13:00", "17:00"], ["09:00", "13:30"]]}, "overlap"),
        ({"mon": [["09:00"]]}, "pair"),
        ({"monday": [["09:00", "17:00"]]}, "days"),
        ([["09:00", "17:00"]], "days"),
    ],
)
def test_malformed_schedules_are_refused(acme, schedule, fragment):
    with pytest.raises(ValidationError) as refused:
        hours(acme, schedule)
    assert fragment in str(refused.value.message_dict["schedule"])
    assert not OpeningHours.objects.exists()


def test_adjacent_ranges_are_allowed(acme):
    hours(acme, {"mon": [["09:00", "12:00"], ["12:00", "13:00"]]}, tz="UTC")
    assert line_is_open(acme.id, utc(2026, 11, 23, 12, 0))


@pytest.mark.parametrize("tz", ["Mars/Olympus", "EST5EDT/x", "", "../etc/passwd"])
def test_the_time_zone_must_be_an_iana_name(acme, tz):
    with pytest.raises(ValidationError) as refused:
        hours(acme, WEEKDAYS, tz=tz)
    assert "timezone" in refused.value.message_dict


def test_one_row_per_company_and_a_message_is_required(acme):
    hours(acme, WEEKDAYS)
    with pytest.raises(IntegrityError), transaction.atomic():
        OpeningHours.objects.create(company=acme)
    OpeningHours.objects.all().delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        OpeningHours.objects.create(company=acme, closed_message="")


def test_the_closed_message_names_the_company_and_nothing_else(acme):
    row = hours(acme, WEEKDAYS)
    assert row.closed_message == DEFAULT_CLOSED_MESSAGE
    assert row.closed_message_for("Acme").startswith("Thank you for calling Acme. We are closed")
    row.closed_message = "{company.__class__} {0} {company}"
    assert row.closed_message_for("Acme") == "{company.__class__} {0} Acme"


def test_a_row_written_around_the_validation_leaves_the_line_open(acme, caplog):
    OpeningHours.objects.create(company=acme, timezone="Nowhere/Atlantis", schedule={})
    assert line_is_open(acme.id, utc(2026, 11, 23, 17, 0))
    OpeningHours.objects.update(timezone="UTC", schedule={"mon": "always"})
    assert line_is_open(acme.id, utc(2026, 11, 23, 17, 0))
    assert "malformed" in caplog.text
