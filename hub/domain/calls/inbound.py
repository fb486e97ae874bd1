"""Creating calls from what Twilio reports, and the effects of a report: recordings, voicemail,
missed-call notifications. Called by :mod:`hub.domain.calls.callbacks` inside its transaction;
each effect is idempotent, so a report applied twice changes nothing more.

A call not known yet is created under its CallSid's lock (:mod:`hub.domain.calls.locks`), which
whoever reads the calls holds: :class:`LockedCalls` is what a transaction holding CallSid locks
has read of their calls.

Who rings for an inbound call: the owner of the dialled ``calls_phonenumber`` (its ``user``), at
that user's ``authentication_user.phone``. The shared schema has no forwarding column, and the
hub may not add one to a shared table; an owner without a phone goes straight to voicemail.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from hub.domain.authentication.models import User
from hub.domain.authentication.selectors import company_member_is_active
from hub.domain.calls import locks
from hub.domain.calls.models import (
    Call,
    CallDirection,
    CallRecording,
    CallStatus,
    Disposition,
    VoicemailMessage,
)
from hub.domain.calls.outbound import call_outbound_adopt
from hub.domain.calls.reports import Leg
from hub.domain.calls.selectors import (
    MatchedNumber,
    call_locked_find,
    call_outbound_find,
    company_number_find,
    contact_find,
    e164_or_none,
)
from hub.domain.calls.services import call_insert, voicemail_create
from hub.domain.notifications.models import Notification, NotificationType
from hub.domain.notifications.services import notification_create

logger = logging.getLogger(__name__)

MISSED = frozenset({CallStatus.NO_ANSWER, CallStatus.BUSY})
# Notifications about a call carry a UUID derived from its CallSid (the column is a UUID).
_CALL_NAMESPACE = uuid.UUID("6f1d0c7e-3b0a-4a53-9a59-6b7f2f1d9c11")


@dataclass
class LockedCalls:
    """The calls of CallSids whose locks this transaction holds, read with ``select_for_update``.

    A batch's (:func:`calls_lock`): its calls read at once, the CallSids another transaction
    holds (``busy``: their reports are left to be applied alone), and the company numbers looked
    up so far (a busy line's calls come to the same few numbers). A call made in a batch has no
    savepoint: a duplicate CallSid fails the whole transaction, whose reports are then applied
    one by one. One report's (:func:`call_sid_held`): its call read when first asked for, and
    made in a savepoint of its own.
    """

    calls: dict[str, Call]
    busy: frozenset[str] = frozenset()
    numbers: dict[str | None, MatchedNumber | None] = field(default_factory=dict)
    batch: bool = True

    def call(self, call_sid: str) -> Call | None:
        """The call of ``call_sid``, or None when it has none yet."""
        if not self.batch and call_sid not in self.calls:
            call = call_locked_find(call_sid=call_sid)
            if call is None:
                return None
            self.calls[call_sid] = call
        return self.calls.get(call_sid)

    def number_find(self, number: str | None) -> MatchedNumber | None:
        if number not in self.numbers:
            self.numbers[number] = company_number_find(number)
        return self.numbers[number]


def call_sid_held() -> LockedCalls:
    """For one report whose CallSid lock this transaction took along with the report's row."""
    return LockedCalls(calls={}, batch=False)


def calls_lock(call_sids: list[str]) -> LockedCalls:
    """Take what a batch's CallSids need: their locks, and their calls' rows.

    The locks are taken with :func:`locks.call_sids_lock`: callbacks of one call held for a
    moment elsewhere then apply in turn, each status pushed. A CallSid still held after that, or
    whose call's row another writer has locked (the CRM, a psql session), is ``busy``: its
    reports are applied alone, so one held call holds up no other call of the batch. The calls
    are read after the locks, in a statement whose snapshot sees what an earlier holder of a
    lock created.
    """
    sids = sorted(set(call_sids))
    busy = locks.call_sids_lock(sids)
    mine = [sid for sid in sids if sid not in busy]
    # SKIP LOCKED (ignored where rows cannot be locked: SQLite serializes writers instead).
    found = Call.objects.select_for_update(skip_locked=True).filter(twilio_call_sid__in=mine)
    calls = {call.twilio_call_sid: call for call in found}
    missing = [sid for sid in mine if sid not in calls]
    if missing and connection.vendor == "postgresql":
        # A call skipped above exists, held by another writer: not a call to make.
        held = Call.objects.filter(twilio_call_sid__in=missing)
        busy.update(held.values_list("twilio_call_sid", flat=True))
    return LockedCalls(calls=calls, busy=frozenset(busy))


def call_ensure(
    held: LockedCalls, *, call_sid: str, leg: Leg, status: str = CallStatus.INITIATED, **fields: Any
) -> tuple[Call | None, bool]:
    """Return the call with this CallSid, locked, and whether it was created just now.

    An unknown call is created (with ``status`` and ``fields``) when a company owns its
    number; the call is None when none does.
    """
    call = held.call(call_sid)
    if call is not None:
        return call, False
    made = _call_make(held, call_sid, leg, status, fields)
    if made[0] is not None:
        held.calls[call_sid] = made[0]
    return made


def _call_make(
    held: LockedCalls, call_sid: str, leg: Leg, status: str, fields: dict[str, Any]
) -> tuple[Call | None, bool]:
    """Adopt or create the call of a CallSid nobody has yet; the caller holds its lock."""
    direction, from_number, to_number = leg.direction, leg.from_number, leg.to_number
    if direction == CallDirection.OUTBOUND:
        # Under the CallSid lock, so a second callback for this sid waits and then finds it.
        call = _placeholder_adopt(call_sid, from_number, to_number)
        if call is not None:
            return call, False
    ours, theirs = (to_number, from_number)
    if direction == CallDirection.OUTBOUND:
        ours, theirs = (from_number, to_number)
    number = held.number_find(ours)
    if number is None:
        return None, False
    contact = contact_find(company_id=number.company_id, number=theirs)
    user: User | None = number.user
    if user is not None and not number.owner_is_member:
        logger.warning(
            "%s belongs to %s, no longer a member of company %s: call %s is left unassigned",
            number.phone_number,
            user.email,
            number.company_id,
            call_sid,
        )
        user = None
    # Every row linked was found within the number's company (call_create's checks hold);
    # the CallSid lock is held and a duplicate's IntegrityError is caught below.
    insert = {
        "company": number.company,
        "direction": direction,
        "from_number": e164_or_none(from_number) or from_number[:20],
        "to_number": e164_or_none(to_number) or to_number[:20],
        "twilio_call_sid": call_sid,
        "status": status,
        "validate_unique": False,
        "phone_number": number,
        "user": user,
        "lead": contact.lead,
        "customer": contact.customer,
        "deal": contact.deal,
        **fields,
    }
    if held.batch:
        # No savepoint: a duplicate fails the batch, whose fallback takes it from here.
        return call_insert(**insert), True
    try:
        with transaction.atomic():  # a failed insert rolls back to this savepoint only
            created = call_insert(**insert)
    except (IntegrityError, ValidationError):
        # Another writer created it meanwhile (outside the lock: the CRM, a REST sync).
        call = call_locked_find(call_sid=call_sid)
        if call is None:
            raise
        return call, False
    return created, True


def _placeholder_adopt(call_sid: str, from_number: str, to_number: str) -> Call | None:
    """Give the sid to a click-to-call row Twilio called back about before it was stored."""
    from_e164, to_e164 = e164_or_none(from_number), e164_or_none(to_number)
    if from_e164 is None or to_e164 is None:
        return None
    return call_outbound_adopt(call_sid=call_sid, from_number=from_e164, to_number=to_e164)


def call_outbound_take(*, call_sid: str, from_number: str, to_number: str) -> Call | None:
    """Return the click-to-call row of this CallSid, adopting the row still waiting for it.

    Twilio may fetch the call's TwiML before :func:`call_place` has stored the sid (and before
    a status callback adopted it): the waiting row is adopted then, under the CallSid's lock,
    as a status callback would. For the TwiML webhook, after ``call_outbound_find`` found none.
    """
    with transaction.atomic():
        locks.call_sid_lock(call_sid)
        adopted = call_outbound_find(call_sid=call_sid) or _placeholder_adopt(
            call_sid, from_number, to_number
        )
    if adopted is None:
        return None
    return call_outbound_find(call_sid=adopted.twilio_call_sid)


def call_recording_upsert(
    *, call: Call, recording_sid: str, recording_url: str, duration: int
) -> CallRecording:
    """Store a finished recording once per RecordingSid and point the call at it."""
    recording, _ = CallRecording.objects.update_or_create(
        recording_sid=recording_sid,
        defaults={"call": call, "recording_url": recording_url, "duration": duration},
    )
    if (call.recording_url, call.recording_duration) != (recording_url, duration):
        call.recording_url = recording_url
        call.recording_duration = duration
        call.save(update_fields=["recording_url", "recording_duration"])
    return recording


def _call_notification_id(call_sid: str) -> uuid.UUID:
    return uuid.uuid5(_CALL_NAMESPACE, call_sid)


def _notify_once(*, user: User, call_sid: str, title: str, message: str) -> bool:
    related_id = _call_notification_id(call_sid)
    if Notification.objects.filter(
        user=user, related_object_type="call", related_object_id=related_id
    ).exists():
        return False
    notification_create(
        user=user,
        title=title,
        message=message,
        type=NotificationType.WARNING,
        related_object_type="call",
        related_object_id=related_id,
    )
    return True


def _number_owner(call: Call) -> User | None:
    """The owner of the company number the call used, else the call's user, while they are an
    active member of the call's company (a former member hears nothing of its calls)."""
    phone_number = call.phone_number  # None without a query when phone_number_id is None
    owner = phone_number.user if phone_number is not None else call.user
    if owner is None:
        return None
    member = company_member_is_active(company_id=call.company_id, user_id=owner.pk)
    return owner if member else None


def call_missed_notify(*, call: Call, outcome: str) -> bool:
    """Tell the owner of the called number about a missed inbound call (once per call)."""
    if call.direction != CallDirection.INBOUND:
        return False
    owner = _number_owner(call)
    if owner is None:
        return False
    if call.disposition is None:
        call.disposition = Disposition.BUSY if outcome == CallStatus.BUSY else Disposition.NO_ANSWER
        call.save(update_fields=["disposition"])
    what = "busy" if outcome == CallStatus.BUSY else "not answered"
    return _notify_once(
        user=owner,
        call_sid=call.twilio_call_sid,
        title=f"Missed call from {call.from_number}",
        message=f"A call from {call.from_number} to {call.to_number} was {what}.",
    )


def voicemail_receive(
    *, call: Call, recording_url: str, duration: int, transcription: str | None = None
) -> VoicemailMessage:
    """Store the voicemail left on the call (once per recording) and notify the number's owner."""
    existing = VoicemailMessage.objects.filter(
        company_id=call.company_id, recording_url=recording_url
    ).first()
    if existing is not None:
        return existing
    voicemail = voicemail_create(
        company=call.company,
        phone_number=call.phone_number,
        from_number=call.from_number,
        duration=duration,
        recording_url=recording_url,
        transcription=transcription,
    )
    if call.disposition in (None, Disposition.NO_ANSWER, Disposition.BUSY):
        call.disposition = Disposition.VOICEMAIL
        call.save(update_fields=["disposition"])
    owner = _number_owner(call)
    if owner is not None:
        related_id = uuid.uuid5(_CALL_NAMESPACE, f"voicemail:{recording_url}")
        notification_create(
            user=owner,
            title=f"Voicemail from {call.from_number}",
            message=f"{call.from_number} left a {duration}s voicemail on {call.to_number}.",
            type=NotificationType.INFO,
            related_object_type="voicemail",
            related_object_id=related_id,
        )
    return voicemail
