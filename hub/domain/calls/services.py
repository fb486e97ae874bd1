"""Writes on phone numbers, calls, notes and voicemail; call changes are pushed to the company."""

from __future__ import annotations

from datetime import datetime

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import models, transaction

from hub.domain.authentication.checks import (
    company_customer_check,
    company_member_check,
    company_rows_check,
)
from hub.domain.authentication.models import Company, User
from hub.domain.calls.locks import phone_number_lock
from hub.domain.calls.models import (
    Call,
    CallNote,
    CallStatus,
    PhoneNumber,
    VoicemailMessage,
)
from hub.domain.events.models import Audience
from hub.domain.events.payloads import call_payload
from hub.domain.events.services import event_record

TOPIC = "calls"
CALL_WATCHED = ("status",)


def phone_normalize(number: str, *, region: str = "US") -> str:
    """Return the number in E.164, or raise ValidationError naming the bad number."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        raise ValidationError({"phone_number": f"{number!r} is not a phone number."}) from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValidationError({"phone_number": f"{number!r} is not a possible phone number."})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _record_call(call: Call, type_: str) -> None:
    event_record(
        company_id=call.company_id,
        audience=Audience.COMPANY,
        user_id=call.user_id,
        topic=TOPIC,
        type=type_,
        payload=call_payload(call),
    )


def phone_number_unclaimed_check(
    *, company: Company, phone_number: str, exclude_pk: int | None = None
) -> None:
    """Refuse an E.164 number another company holds actively: calls to it would go astray.

    Call inside the transaction that saves the number: on PostgreSQL it holds a lock on the
    number until commit, so two companies adding it at once cannot both pass (the shared table
    has no unique index on the number).
    """
    phone_number_lock(phone_number)
    held = PhoneNumber.objects.filter(phone_number=phone_number, is_active=True).exclude(
        company=company
    )
    if exclude_pk is not None:
        held = held.exclude(pk=exclude_pk)
    if held.exists():
        raise ValidationError(
            {
                "phone_number": f"{phone_number} is already an active number of another "
                "company; deactivate it there first."
            }
        )


@transaction.atomic
def phone_number_add(
    *,
    company: Company,
    user: User,
    phone_number: str,
    twilio_phone_sid: str,
    number_type: str = "VoIP",
    is_default: bool = False,
    **fields,
) -> PhoneNumber:
    e164 = phone_number_check(
        company=company,
        user=user,
        phone_number=phone_number,
        is_active=fields.get("is_active", True),
    )
    if is_default:
        PhoneNumber.objects.filter(user=user, is_default=True).update(is_default=False)
    number = PhoneNumber(
        company=company,
        user=user,
        phone_number=e164,
        country_code=_country_code(e164),
        number_type=number_type,
        twilio_phone_sid=twilio_phone_sid,
        is_default=is_default,
        **fields,
    )
    number.full_clean()
    number.save()
    return number


def _country_code(e164: str) -> str:
    parsed = phonenumbers.parse(e164)
    return phonenumbers.region_code_for_number(parsed) or str(parsed.country_code)


def phone_number_check(
    *,
    company: Company,
    user: User | None,
    phone_number: str,
    is_active: bool = True,
    exclude_pk: int | None = None,
) -> str:
    """Check a number as it would be stored; return it in E.164, or raise ValidationError.

    The owner must be a member of the company, and an active number may not be one another
    company holds actively. Forms call this to show the errors next to their fields.
    """
    company_member_check(company=company, user=user, field="user")
    e164 = phone_normalize(phone_number)
    if is_active:
        phone_number_unclaimed_check(company=company, phone_number=e164, exclude_pk=exclude_pk)
    return e164


_NUMBER_FIXED = frozenset({"id", "created_at"})


@transaction.atomic
def phone_number_update(*, number: PhoneNumber, **changes) -> PhoneNumber:
    """Change a number with the rules of :func:`phone_number_add`, checked on the result.

    The owner must be a member of the company, the number is stored in E.164 (its country
    follows unless given), a default number is the owner's only default, and an active number
    may not be one another company holds actively.
    """
    names = {field.name for field in PhoneNumber._meta.concrete_fields} - _NUMBER_FIXED
    unknown = set(changes) - names
    if unknown:
        raise TypeError(f"phone_number_update() cannot change {', '.join(sorted(unknown))}")
    # The instance may carry the changes already (a form applied them): compare with the row.
    stored = PhoneNumber.objects.filter(pk=number.pk).values_list("phone_number", flat=True).first()
    for name, value in changes.items():
        setattr(number, name, value)
    number.phone_number = phone_number_check(
        company=number.company,
        user=number.user,
        phone_number=number.phone_number,
        is_active=number.is_active,
        exclude_pk=number.pk,
    )
    if number.phone_number != stored and "country_code" not in changes:
        number.country_code = _country_code(number.phone_number)
    if number.is_default:
        PhoneNumber.objects.filter(user=number.user, is_default=True).exclude(pk=number.pk).update(
            is_default=False
        )
    number.full_clean()
    number.save()
    return number


@transaction.atomic
def call_create(
    *,
    company: Company,
    direction: str,
    from_number: str,
    to_number: str,
    twilio_call_sid: str,
    status: str = CallStatus.INITIATED,
    **fields,
) -> Call:
    company_rows_check(
        company=company,
        phone_number=fields.get("phone_number"),
        lead=fields.get("lead"),
        deal=fields.get("deal"),
    )
    company_customer_check(company=company, customer=fields.get("customer"))
    company_member_check(company=company, user=fields.get("user"), field="user")
    return call_insert(
        company=company,
        direction=direction,
        from_number=from_number,
        to_number=to_number,
        twilio_call_sid=twilio_call_sid,
        status=status,
        **fields,
    )


def call_insert(
    *,
    company: Company,
    direction: str,
    from_number: str,
    to_number: str,
    twilio_call_sid: str,
    status: str,
    validate_unique: bool = True,
    **fields,
) -> Call:
    """Create the call without the tenant checks of :func:`call_create`.

    Only for a caller that found every row it links within ``company`` itself (the Twilio
    matching in ``inbound.call_ensure``), and, with ``validate_unique=False``, that holds the
    CallSid's lock and catches the ``IntegrityError`` of a duplicate sid. In the caller's
    transaction when there is one, with no savepoint: a caller that carries on after a failed
    insert wraps it in ``transaction.atomic()``.
    """
    with transaction.atomic(savepoint=False):
        call = Call(
            company=company,
            direction=direction,
            from_number=from_number,
            to_number=to_number,
            twilio_call_sid=twilio_call_sid,
            status=status,
            **fields,
        )
        # Rows given as saved instances exist (the foreign keys would say so if one vanished):
        # no query each. The CHECK constraints only repeat the choices clean_fields checks.
        call.full_clean(
            exclude=_saved_rows(company=company, **fields),
            validate_unique=validate_unique,
            validate_constraints=False,
        )
        call.save()
        _record_call(call, "call.created")
    return call


def _saved_rows(**fields) -> list[str]:
    return [
        name
        for name, value in fields.items()
        if isinstance(value, models.Model) and value.pk is not None
    ]


def call_status_set(
    *,
    call: Call,
    status: str,
    duration: int | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
) -> Call:
    """Set the call's status (and timing when known); pushes only when the status changed.

    In the caller's transaction when there is one (no savepoint: a failure here fails it), else
    in its own. Twilio's reports go through ``twilio_status.call_status_merge`` instead, which
    only moves a call forward.
    """
    if status not in CallStatus.values:
        raise ValidationError({"status": f"Unknown call status {status!r}."})
    with transaction.atomic(savepoint=False):
        previous = call.status
        call.status = status
        for name, value in (
            ("duration", duration),
            ("start_time", start_time),
            ("end_time", end_time),
        ):
            if value is not None:
                setattr(call, name, value)
        call.save(update_fields=["status", "duration", "start_time", "end_time"])
        if previous != status:
            _record_call(call, "call.updated")
    return call


def call_note_add(*, call: Call, user: User, note: str) -> CallNote:
    if not note.strip():
        raise ValidationError({"note": "A note cannot be empty."})
    return CallNote.objects.create(call=call, user=user, note=note.strip())


def call_disposition_set(*, call: Call, disposition: str) -> Call:
    call.disposition = disposition
    call.full_clean()
    call.save(update_fields=["disposition"])
    return call


def voicemail_create(
    *,
    company: Company,
    phone_number: PhoneNumber | None,
    from_number: str,
    duration: int,
    recording_url: str,
    transcription: str | None = None,
) -> VoicemailMessage:
    company_rows_check(company=company, phone_number=phone_number)
    voicemail = VoicemailMessage(
        company=company,
        phone_number=phone_number,
        from_number=from_number,
        duration=duration,
        recording_url=recording_url,
        transcription=transcription,
    )
    voicemail.full_clean()
    voicemail.save()
    return voicemail
