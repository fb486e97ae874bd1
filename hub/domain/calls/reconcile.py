"""Reconciliation with Twilio's REST API: correct calls a webhook missed, backfill a date range.

Both go through :func:`hub.domain.calls.twilio_status.call_status_merge`, so the REST API's
view is merged with the callbacks' the same way (forward-only status, final terminal status,
commutative timing) and every change reaches the event log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from hub.domain.authentication.models import Company
from hub.domain.authentication.selectors import company_member_is_active
from hub.domain.calls.models import Call, CallDirection, CallStatus, PhoneNumber
from hub.domain.calls.outbound import PENDING_SID_PREFIX, call_fail
from hub.domain.calls.selectors import contact_find
from hub.domain.calls.services import call_create, phone_normalize
from hub.domain.calls.twilio_status import TERMINAL, call_status_merge
from hub.integrations.twilio.rest import TwilioCall, TwilioError, TwilioRest

logger = logging.getLogger(__name__)

RECONCILE_BATCH = 500
BACKFILL_PAGE_SIZE = 100
ABANDONED_REASON = "Twilio never confirmed this call: the hub stopped while placing it."

Progress = Callable[[str], None]


@dataclass
class _Summary:
    def __str__(self) -> str:
        return ", ".join(
            f"{f.name.replace('_', ' ')} {getattr(self, f.name)}" for f in fields(self)
        )


@dataclass
class ReconcileSummary(_Summary):
    checked: int = 0
    corrected: int = 0
    unchanged: int = 0
    not_found: int = 0
    abandoned: int = 0
    errors: int = 0


@dataclass
class BackfillSummary(_Summary):
    listed: int = 0
    created: int = 0
    corrected: int = 0
    unchanged: int = 0
    skipped: int = 0
    other_company: int = 0


def calls_stale(*, now: datetime, age_seconds: int) -> QuerySet[Call]:
    """Calls, of every company, still not final ``age_seconds`` after they were created."""
    cutoff = now - timedelta(seconds=age_seconds)
    return (
        Call.objects.filter(created_at__lt=cutoff)
        .exclude(status__in=TERMINAL)
        .order_by("created_at", "id")
    )


def _apply(call: Call, remote: TwilioCall) -> bool:
    return call_status_merge(
        call=call,
        twilio_status=remote.status,
        duration=remote.duration,
        start_time=remote.start_time,
        end_time=remote.end_time,
        price=remote.price,
        price_unit=remote.price_unit,
    )


def calls_reconcile_stale(
    *, now: datetime | None = None, rest: TwilioRest | None = None, limit: int = RECONCILE_BATCH
) -> ReconcileSummary:
    """Fetch every stale call from Twilio and correct it; stop early if Twilio is unreachable."""
    summary = ReconcileSummary()
    stale = list(
        calls_stale(now=now or timezone.now(), age_seconds=settings.TWILIO_RECONCILE_AGE_SECONDS)[
            :limit
        ]
    )
    if not stale:
        return summary
    try:
        rest = rest or TwilioRest()
    except TwilioError as exc:
        logger.warning("calls reconcile: %d stale calls left as they are: %s", len(stale), exc)
        summary.errors = len(stale)
        return summary
    for call in stale:
        summary.checked += 1
        if call.twilio_call_sid.startswith(PENDING_SID_PREFIX):
            call_fail(call=call, reason=ABANDONED_REASON)
            summary.abandoned += 1
            continue
        try:
            remote = rest.call_fetch(call.twilio_call_sid)
        except TwilioError as exc:
            summary.errors += 1
            logger.warning("calls reconcile: fetching %s failed: %s", call.twilio_call_sid, exc)
            if not exc.permanent:
                break  # Twilio is down or slow: the next run tries again
            continue
        if remote is None:
            summary.not_found += 1
            logger.warning("calls reconcile: Twilio does not know %s", call.twilio_call_sid)
        elif _apply(call, remote):
            summary.corrected += 1
        else:
            summary.unchanged += 1
    return summary


def _number(raw: str) -> str:
    try:
        return phone_normalize(raw)
    except ValidationError:
        return raw[:20]  # client:..., sip:... and withheld numbers are kept as Twilio sent them


def _call_create_from(*, company: Company, number: PhoneNumber, remote: TwilioCall) -> Call:
    # A former member (the membership removed or deactivated) is not given the call.
    member = company_member_is_active(company_id=company.id, user_id=number.user_id)
    inbound = remote.direction == "inbound"
    contact = contact_find(
        company_id=company.id, number=remote.from_number if inbound else remote.to_number
    )
    return call_create(
        company=company,
        direction=CallDirection.INBOUND if inbound else CallDirection.OUTBOUND,
        from_number=_number(remote.from_number),
        to_number=_number(remote.to_number),
        twilio_call_sid=remote.sid,
        status=CallStatus.INITIATED,
        phone_number=number,
        user=number.user if member else None,
        lead=contact.lead,
        customer=contact.customer,
        deal=contact.deal,
    )


def _backfill_one(
    *, company: Company, number: PhoneNumber, remote: TwilioCall, summary: BackfillSummary
) -> str:
    call = Call.objects.filter(twilio_call_sid=remote.sid).first()
    if call is None:
        try:
            with transaction.atomic():
                call = _call_create_from(company=company, number=number, remote=remote)
        except IntegrityError:  # a webhook created it meanwhile
            call = Call.objects.get(twilio_call_sid=remote.sid)
        else:
            _apply(call, remote)
            summary.created += 1
            return "created"
    if call.company_id != company.id:
        summary.other_company += 1
        return "belongs to another company, left alone"
    if _apply(call, remote):
        summary.corrected += 1
        return "corrected"
    summary.unchanged += 1
    return "unchanged"


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _held_elsewhere(number: PhoneNumber) -> bool:
    """Whether another company holds the number actively (it changed hands, or is shared)."""
    return (
        PhoneNumber.objects.filter(phone_number=number.phone_number, is_active=True)
        .exclude(company_id=number.company_id)
        .exists()
    )


def _before_purchase(number: PhoneNumber, remote: TwilioCall) -> bool:
    return (
        number.purchased_at is not None
        and remote.start_time is not None
        and remote.start_time < number.purchased_at
    )


def calls_backfill(
    *,
    company: Company,
    since: date,
    until: date,
    rest: TwilioRest | None = None,
    progress: Progress | None = None,
) -> BackfillSummary:
    """Create or correct the company's calls started from ``since`` to ``until`` (UTC, inclusive).

    Twilio is asked for the calls to and from each of the company's numbers; a call whose sid
    is stored for another company is never touched. A number that another company holds
    actively is passed over, and a call that started before the company's row of the number
    was purchased is skipped: a number that changed hands brings no one else's calls. Running it twice changes nothing the
    second time. Raises TwilioError when Twilio cannot be asked.
    """
    if until < since:
        raise ValidationError({"until": "The end of the range is before its start."})
    rest = rest or TwilioRest()
    say = progress or (lambda line: None)
    summary = BackfillSummary()
    seen: set[str] = set()
    after, before = _day_start(since), _day_start(until + timedelta(days=1))
    early: set[str] = set()
    for number in PhoneNumber.objects.filter(company=company).select_related("user").order_by("id"):
        if _held_elsewhere(number):
            say(f"{number.phone_number}: another company holds it now; its calls are not asked for")
            continue
        say(f"{number.phone_number}: asking Twilio for calls from {since} to {until}")
        for side in ({"to": number.phone_number}, {"from_": number.phone_number}):
            listed = rest.calls_list(
                started_after=after, started_before=before, page_size=BACKFILL_PAGE_SIZE, **side
            )
            for remote in listed:
                if remote.sid in seen:
                    continue
                if _before_purchase(number, remote):
                    # Someone else's call, made before the company had the number.
                    if remote.sid not in early:
                        early.add(remote.sid)
                        summary.skipped += 1
                        say(f"  {remote.sid}: started before the number was the company's")
                    continue
                seen.add(remote.sid)
                summary.listed += 1
                if remote.parent_call_sid:
                    summary.skipped += 1  # a <Dial> leg; its parent call is the one the hub keeps
                    continue
                outcome = _backfill_one(
                    company=company, number=number, remote=remote, summary=summary
                )
                say(f"  {remote.sid} {remote.status}: {outcome}")
    return summary
