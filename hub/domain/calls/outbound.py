"""Click-to-call: place an outbound call through Twilio from the user's default number.

The ``calls_call`` row is created and committed first (status ``Initiated``, a placeholder sid),
so the call is on the board before Twilio is asked and a failure has a row to land on. Then the
REST API is asked to place the call with status callbacks to the hub, and the CallSid it returns
replaces the placeholder. Notes and dispositions on the call go through
:func:`hub.domain.calls.services.call_note_add` and ``call_disposition_set``.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper
from django.utils import timezone

from hub.domain.authentication.models import Company, CompanyUser, Customer, User
from hub.domain.authentication.selectors import member_active_q
from hub.domain.calls.models import Call, CallDirection, CallStatus, PhoneNumber
from hub.domain.calls.services import call_create, phone_normalize
from hub.domain.calls.twilio_status import call_status_merge
from hub.domain.crm.models import Deal, Lead
from hub.integrations.twilio.rest import TwilioError, TwilioRest

logger = logging.getLogger(__name__)

#: Twilio fetches the call's TwiML here when the callee answers.
OUTBOUND_TWIML_PATH = "/twilio/voice/outbound"
STATUS_CALLBACK_PATH = "/twilio/voice/status"
STATUS_CALLBACK_EVENTS = ["initiated", "ringing", "answered", "completed"]
#: ``twilio_call_sid`` of a call created before Twilio gave it a sid (the column is unique).
PENDING_SID_PREFIX = "pending-"
#: How long a placeholder waits to be adopted by a status callback.
ADOPT_WITHIN = timedelta(minutes=5)
#: A call asked for longer ago than this is not placed: the person has moved on.
MAX_WAIT_SECONDS = 120


class CallPlacementError(Exception):
    """The call could not be placed; ``str()`` is a message for the person who asked.

    ``call`` is the row marked ``Failed`` when one was created, else None.
    """

    def __init__(self, message: str, *, call: Call | None = None) -> None:
        super().__init__(message)
        self.call = call


class CallRequestExpired(CallPlacementError):
    """The call waited longer than MAX_WAIT_SECONDS to be placed; ``waited`` says how long."""

    def __init__(self, *, waited: int) -> None:
        super().__init__(f"The call was not placed: it waited {waited} s, too long to place now.")
        self.waited = waited


def phone_number_default(*, user: User, company: Company) -> PhoneNumber:
    """Return the user's default active number in the company, or raise CallPlacementError."""
    number = (
        PhoneNumber.objects.filter(company=company, user=user, is_default=True, is_active=True)
        .order_by("id")
        .first()
    )
    if number is None:
        raise CallPlacementError(
            f"{user.email} has no default phone number in {company.company_name}; "
            "an admin can assign one in the console."
        )
    return number


def phone_number_region(number: PhoneNumber) -> str:
    """The region a number dialled without a country code is read in: the caller's number's."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(number.phone_number))
    except phonenumbers.NumberParseException:
        region = None
    code = (number.country_code or "").upper()
    return region or (code if len(code) == 2 and code.isalpha() else "US")


def _public_url(path: str) -> str:
    if not settings.HUB_PUBLIC_URL:
        raise CallPlacementError("Calling is not set up on this hub (HUB_PUBLIC_URL is unset).")
    return settings.HUB_PUBLIC_URL + path


def _human(exc: TwilioError, to: str) -> str:
    if exc.status is not None and exc.status < 500:
        return f"Twilio refused the call to {to}: {exc}"
    if exc.status is not None:
        return f"Twilio could not place the call to {to} right now ({exc}); try again shortly."
    return f"Could not place the call to {to}: {exc}."


def _caller_check(*, user: User, company: Company) -> None:
    """Raise CallPlacementError unless the user is an active member of the active company.

    Read afresh: a membership or company may be switched off between the console page or the
    Slack command and the call. No role is required; every active member may place calls.
    """
    row = (
        CompanyUser.objects.filter(user_id=user.pk, company_id=company.pk)
        .annotate(member=ExpressionWrapper(member_active_q(), output_field=BooleanField()))
        .values_list("is_active", "user__is_active", "member")
        .first()
    )
    if row is not None and row[1] and row[2]:
        return
    if row is None or not (row[0] and row[1]):
        raise CallPlacementError(
            f"{user.email} is not an active member of {company.company_name}, "
            "so cannot place calls from its numbers."
        )
    # An active membership the rule refuses: its company is the one switched off.
    raise CallPlacementError(
        f"{company.company_name} is deactivated in the CRM; its numbers cannot place calls."
    )


@transaction.atomic
def call_fail(*, call: Call, reason: str) -> Call:
    """Mark a call that never got going ``Failed`` and keep the reason in its notes."""
    call_status_merge(call=call, twilio_status="failed")
    call.notes = f"{call.notes}\n{reason}".strip() if call.notes else reason
    call.save(update_fields=["notes"])
    return call


@transaction.atomic
def call_sid_store(*, call: Call, twilio_call_sid: str) -> Call:
    """Replace the placeholder sid with the one Twilio returned (unless a callback already did)."""
    locked = Call.objects.select_for_update().get(pk=call.pk)
    if locked.twilio_call_sid == twilio_call_sid:  # adopted by its first status callback
        call.twilio_call_sid = twilio_call_sid
        return call
    if Call.objects.filter(twilio_call_sid=twilio_call_sid).exists():
        # A callback created its own row for this sid first. This row keeps its placeholder,
        # and reconciliation marks it Failed once it is TWILIO_RECONCILE_AGE_SECONDS old.
        logger.error(
            "click-to-call %s: CallSid %s is already stored on another call",
            call.pk,
            twilio_call_sid,
        )
        return call
    call.twilio_call_sid = twilio_call_sid
    call.save(update_fields=["twilio_call_sid"])
    return call


@transaction.atomic
def call_outbound_adopt(*, call_sid: str, from_number: str, to_number: str) -> Call | None:
    """Give the CallSid of a status callback to the click-to-call row still waiting for it.

    Twilio's first callback may be processed before :func:`call_place` has stored the sid;
    the callback path calls this before creating a row for an unknown outbound CallSid.
    Only a row of the company holding ``from_number`` actively is adopted: none when no company
    does, or more than one does, so one company's call never takes another's row.
    """
    holders = list(
        PhoneNumber.objects.filter(phone_number=from_number, is_active=True)
        .values_list("company_id", flat=True)
        .distinct()[:2]
    )
    if len(holders) != 1:
        if holders:
            logger.error(
                "CallSid %s: %s is an active number of more than one company; "
                "no click-to-call row adopts it",
                call_sid,
                from_number,
            )
        return None
    call = (
        Call.objects.select_for_update(skip_locked=True)
        .filter(
            company_id=holders[0],
            direction=CallDirection.OUTBOUND,
            twilio_call_sid__startswith=PENDING_SID_PREFIX,
            from_number=from_number,
            to_number=to_number,
            created_at__gte=timezone.now() - ADOPT_WITHIN,
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if call is not None:
        call.twilio_call_sid = call_sid
        call.save(update_fields=["twilio_call_sid"])
    return call


def call_place(
    *,
    user: User,
    company: Company,
    to_number: str,
    lead: Lead | None = None,
    customer: Customer | None = None,
    deal: Deal | None = None,
    rest: TwilioRest | None = None,
) -> Call:
    """Place an outbound call from the user's default number; raise CallPlacementError if not.

    Only an active member of the (active) company may place its calls.

    Runs outside any transaction: the row must be committed before Twilio hears of the call.
    """
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError(
            "call_place commits the call before asking Twilio; call it outside a transaction"
        )
    _caller_check(user=user, company=company)
    number = phone_number_default(user=user, company=company)
    try:
        to = phone_normalize(to_number, region=phone_number_region(number))
    except ValidationError:
        raise CallPlacementError(
            f"{to_number!r} is not a phone number that can be called."
        ) from None
    twiml_url = _public_url(OUTBOUND_TWIML_PATH)
    status_url = _public_url(STATUS_CALLBACK_PATH)
    try:
        rest = rest or TwilioRest()
    except TwilioError as exc:
        raise CallPlacementError(f"Calling is not set up on this hub: {exc}.") from exc
    try:
        call = call_create(
            company=company,
            direction=CallDirection.OUTBOUND,
            from_number=number.phone_number,
            to_number=to,
            twilio_call_sid=f"{PENDING_SID_PREFIX}{uuid.uuid4().hex}",
            status=CallStatus.INITIATED,
            phone_number=number,
            user=user,
            lead=lead,
            customer=customer,
            deal=deal,
        )
    except ValidationError as exc:
        raise CallPlacementError(" ".join(exc.messages)) from exc
    try:
        placed = rest.call_create(
            to=to,
            from_=number.phone_number,
            url=twiml_url,
            status_callback=status_url,
            status_callback_event=STATUS_CALLBACK_EVENTS,
        )
    except TwilioError as exc:
        message = _human(exc, to)
        logger.warning("click-to-call %s failed: %s", call.pk, exc)
        call_fail(call=call, reason=message)
        raise CallPlacementError(message, call=call) from exc
    call_sid_store(call=call, twilio_call_sid=placed.sid)
    call_status_merge(call=call, twilio_status=placed.status)
    return call


def call_request_place(
    *,
    user: User,
    company: Company,
    to_number: str,
    target_kind: str | None = None,
    target_id: int | None = None,
    waited: int = 0,
    rest: TwilioRest | None = None,
) -> Call:
    """Place the call a person asked for: the console's Call button and Slack's ``/call``.

    Raise CallRequestExpired when the request waited (in a job queue) more than
    MAX_WAIT_SECONDS, and CallPlacementError when :func:`call_place` refuses. The lead,
    customer or deal ``target_id`` is attached only when it is a row of ``company``.
    """
    if waited > MAX_WAIT_SECONDS:
        raise CallRequestExpired(waited=waited)
    lead = customer = deal = None
    if target_id is not None:
        # Only a row of the caller's company is ever attached to the call.
        if target_kind == "lead":
            lead = Lead.objects.filter(pk=target_id, company=company).first()
        elif target_kind == "customer":
            customer = Customer.objects.filter(pk=target_id, companies__company=company).first()
        elif target_kind == "deal":
            deal = Deal.objects.filter(pk=target_id, company=company).first()
    return call_place(
        user=user,
        company=company,
        to_number=to_number,
        lead=lead,
        customer=customer,
        deal=deal,
        rest=rest,
    )
