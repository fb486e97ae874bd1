"""Opening hours of a company's phone line (``hub_opening_hours``, hub-owned).

Outside them an inbound call is not rung through: the caller hears the closed message and
goes to voicemail. No row, or a disabled one, means always open.
"""

from __future__ import annotations

import functools
import logging
import re
from datetime import UTC, datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError
from django.db import models

if TYPE_CHECKING:
    from hub.domain.authentication.models import Company

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_CLOSED_MESSAGE = (
    "Thank you for calling {company}. We are closed right now. "
    "Please leave a message after the tone."
)
# 24:00 ends a range at midnight; it never starts one.
_TIME = re.compile(r"(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))")

logger = logging.getLogger(__name__)

Ranges = dict[str, list[tuple[int, int]]]


def default_schedule() -> dict[str, list[list[str]]]:
    """Monday to Friday, 09:00 to 17:30; closed at the weekend."""
    return {day: [["09:00", "17:30"]] if day not in ("sat", "sun") else [] for day in DAYS}


def _minutes(value: Any) -> int | None:
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    hours, minutes = (int(part) for part in match.groups() if part is not None)
    return hours * 60 + minutes


def schedule_ranges(schedule: Any) -> Ranges:
    """Return each day's ranges as minutes since midnight, sorted; refuse a malformed schedule."""
    if not isinstance(schedule, dict) or set(schedule) - set(DAYS):
        raise ValidationError(f"The schedule maps days ({', '.join(DAYS)}) to lists of ranges.")
    ranges: Ranges = {}
    for day in DAYS:
        day_ranges = []
        for pair in schedule.get(day) or []:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise ValidationError(f"{day}: each range is a pair [start, end].")
            start, end = _minutes(pair[0]), _minutes(pair[1])
            if start is None or end is None or start == 24 * 60:
                raise ValidationError(f"{day}: {pair[0]!r}-{pair[1]!r} is not HH:MM-HH:MM.")
            if start >= end:
                raise ValidationError(f"{day}: {pair[0]}-{pair[1]} must start before it ends.")
            day_ranges.append((start, end))
        day_ranges.sort()
        for (_, end), (start, _) in pairwise(day_ranges):
            if start < end:
                raise ValidationError(f"{day}: ranges overlap.")
        ranges[day] = day_ranges
    return ranges


def schedule_validate(schedule: Any) -> None:
    schedule_ranges(schedule)


def timezone_validate(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{name!r} is not an IANA time zone (e.g. Europe/Berlin).") from None


@functools.cache  # available_timezones() reads the tz database from disk each time
def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(available_timezones())]


class OpeningHours(models.Model):
    company = models.OneToOneField(
        "authentication.Company", on_delete=models.CASCADE, related_name="opening_hours"
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[timezone_validate])
    schedule = models.JSONField(
        default=default_schedule,
        blank=True,  # {}: closed every day
        validators=[schedule_validate],
        help_text='Ranges per day, e.g. {"mon": [["09:00", "12:00"], ["13:00", "17:30"]]}; '
        "24:00 ends a range at midnight; a day with no ranges is closed.",
    )
    closed_message = models.TextField(
        default=DEFAULT_CLOSED_MESSAGE,
        help_text="What callers hear outside opening hours, before the voicemail tone. "
        "{company} is replaced by the company's name.",
    )
    is_enabled = models.BooleanField(
        default=True, help_text="When off, calls ring at any hour (as without a row)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "hub_opening_hours"
        verbose_name = "opening hours"
        verbose_name_plural = "opening hours"
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(closed_message=""), name="hub_opening_hours_message_set"
            )
        ]

    def __str__(self) -> str:
        return f"Opening hours ({self.timezone})"

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` (an aware datetime) falls in one of the day's ranges, in local time."""
        if not self.is_enabled:
            return True
        try:
            local = at.astimezone(ZoneInfo(self.timezone))
            ranges = schedule_ranges(self.schedule)[DAYS[local.weekday()]]
        except (ValidationError, ZoneInfoNotFoundError, ValueError):
            # A row written around the validation: better to ring than to turn callers away.
            logger.exception("opening hours %s are malformed; the line is taken as open", self.pk)
            return True
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in ranges)

    def closed_message_for(self, company_name: str) -> str:
        # str.replace, not str.format: an admin's braces must not reach into objects.
        return self.closed_message.replace("{company}", company_name)


_EDITABLE = frozenset({"company", "timezone", "schedule", "closed_message", "is_enabled"})


def opening_hours_add(
    *,
    company: Company,
    timezone: str = "UTC",
    schedule: dict[str, Any] | None = None,
    closed_message: str = DEFAULT_CLOSED_MESSAGE,
    is_enabled: bool = True,
) -> OpeningHours:
    """Give a company's phone line opening hours (one row per company), validated."""
    hours = OpeningHours(
        company=company,
        timezone=timezone,
        schedule=default_schedule() if schedule is None else schedule,
        closed_message=closed_message,
        is_enabled=is_enabled,
    )
    hours.full_clean()
    hours.save()
    return hours


def opening_hours_update(*, hours: OpeningHours, **changes: Any) -> OpeningHours:
    """Change opening hours (time zone, schedule, message, switch) with the rules of the add."""
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise TypeError(f"opening_hours_update() cannot change {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(hours, name, value)
    hours.full_clean()
    hours.save()
    return hours


def now() -> datetime:
    """The time the incoming-call webhook checks opening hours at (tests replace it)."""
    return datetime.now(tz=UTC)


def opening_hours_find(*, company_id: int) -> OpeningHours | None:
    """Return the company's enabled opening hours, or None when its line is always open."""
    return OpeningHours.objects.filter(company_id=company_id, is_enabled=True).first()
