"""What Twilio tells the hub about calls: matching numbers, creating calls, recordings, voicemail.

Every function here is called by the Twilio inbox processor (``hub.integrations.twilio.inbox``)
inside its transaction; each is idempotent, so a callback applied twice changes nothing more.

Who rings for an inbound call: the owner of the dialled ``calls_phonenumber`` (its ``user``), at
that user's ``authentication_user.phone``. The shared schema has no forwarding column, and the
hub may not add one to a shared table; an owner without a phone goes straight to voicemail.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict, cast

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction

from hub.domain.authentication.models import Company, CompanyUser, Customer, User
from hub.domain.calls.models import (
    Call,
    CallDirection,
    CallRecording,
    CallStatus,
    Disposition,
    PhoneNumber,
    VoicemailMessage,
)
from hub.domain.calls.outbound import call_outbound_adopt
from hub.domain.calls.services import call_insert, phone_normalize, voicemail_create
from hub.domain.crm.models import Deal, Lead
from hub.domain.notifications.models import Notification, NotificationType
from hub.domain.notifications.services import notification_create

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

logger = logging.getLogger(__name__)

MISSED = frozenset({CallStatus.NO_ANSWER, CallStatus.BUSY})
# Notifications about a call carry a UUID derived from its CallSid (the column is a UUID).
_CALL_NAMESPACE = uuid.UUID("6f1d0c7e-3b0a-4a53-9a59-6b7f2f1d9c11")
# First key of the two-key advisory locks serializing call creation per CallSid.
_CALL_SID_LOCK_CLASS = 0x7C411
# Rows of one number read to tell whether more than one company holds it.
MAX_NUMBER_MATCHES = 10


@dataclass(frozen=True)
class Contact:
    lead: Lead | None = None
    customer: Customer | None = None
    deal: Deal | None = None


def e164_or_none(number: str | None) -> str | None:
    """Return the number in E.164, or None for a withheld or malformed number."""
    if not number:
        return None
    try:
        return phone_normalize(number)
    except ValidationError:
        return None


class _NumberAnnotations(TypedDict):
    owner_is_member: bool


# A PhoneNumber as company_number_find returns it, annotated with ``owner_is_member``.
MatchedNumber: TypeAlias = "WithAnnotations[PhoneNumber, _NumberAnnotations]"

# The active rows of a number, with what matching and ringing read of their company and owner.
# Raw SQL for the same reason as _CANDIDATES_SQL below: the ORM queryset (select_related, only,
# an Exists annotation) cost more to build and compile than to run, on every new call.
_NUMBER_SQL = (
    "SELECT n.id, n.company_id, n.user_id, n.phone_number, n.is_active, c.company_name, "
    "u.email, u.phone, EXISTS (SELECT 1 FROM authentication_companyuser m "
    "WHERE m.company_id = n.company_id AND m.user_id = n.user_id AND m.is_active) "
    "FROM calls_phonenumber n "
    "JOIN authentication_company c ON c.id = n.company_id "
    "JOIN authentication_user u ON u.id = n.user_id "
    "WHERE n.phone_number = %s AND n.is_active ORDER BY n.id LIMIT %s"
)
_NUMBER_COLUMNS = ["id", "company_id", "user_id", "phone_number", "is_active"]


def company_number_find(number: str | None) -> MatchedNumber | None:
    """Return the active company number Twilio called or called from, with company and owner.

    None when no company holds the number actively, and also when more than one company does
    (rows older than the rule against it): the call is then left unmatched rather than given
    to one of them at random. ``owner_is_member`` says whether the number's owner is still an
    active member of its company (a former member's phone is not rung, nor told of calls).
    Only the columns matching and ringing read are loaded (the others load when touched).
    """
    e164 = e164_or_none(number)
    if e164 is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_NUMBER_SQL, [e164, MAX_NUMBER_MATCHES])
        rows = cursor.fetchall()
    if not rows:
        return None
    companies = {row[1] for row in rows}
    if len(companies) > 1:
        logger.error(
            "%s is an active number of %d companies (ids %s); the call is left unmatched",
            e164,
            len(companies),
            ", ".join(str(company_id) for company_id in sorted(companies)),
        )
        return None
    pk, company_id, user_id, phone_number, is_active, company_name, email, phone, member = rows[0]
    found = PhoneNumber.from_db(
        connection.alias, _NUMBER_COLUMNS, [pk, company_id, user_id, phone_number, is_active]
    )
    company = Company.from_db(connection.alias, ["id", "company_name"], [company_id, company_name])
    owner = User.from_db(connection.alias, ["id", "email", "phone"], [user_id, email, phone])
    # As select_related would: number.company and number.user without a query.
    PhoneNumber._meta.get_field("company").set_cached_value(found, company)
    PhoneNumber._meta.get_field("user").set_cached_value(found, owner)
    matched = cast("MatchedNumber", found)
    matched.owner_is_member = bool(member)
    return matched


def _same_number(stored: str | None, e164: str) -> bool:
    return bool(stored) and e164_or_none(stored) == e164


# The candidates for contact_find: per kind, the newest 50 whose phone holds the number's last
# digits, ranked newest first. Raw SQL because compiling three ORM querysets cost more CPU than
# running them (bench/twilio_callbacks.py); table and column names are SCHEMA.md's contract.
_CANDIDATES_SQL = " UNION ALL ".join(
    f"SELECT * FROM ({part} LIMIT 50) AS {kind}"  # noqa: S608 - constant SQL, no input in it
    for kind, part in (
        (
            "lead",
            "SELECT 'lead', id, phone, ROW_NUMBER() OVER (ORDER BY created_at DESC, id DESC) "
            "FROM crm_lead WHERE company_id = %s AND phone LIKE %s "
            "ORDER BY created_at DESC, id DESC",
        ),
        (
            "deal",
            "SELECT 'deal', id, contact_phone, "
            "ROW_NUMBER() OVER (ORDER BY created_at DESC, id DESC) "
            "FROM crm_deal WHERE company_id = %s AND contact_phone LIKE %s "
            "ORDER BY created_at DESC, id DESC",
        ),
        (
            "customer",
            "SELECT 'customer', c.id, u.phone, ROW_NUMBER() OVER (ORDER BY c.id DESC) "
            "FROM authentication_customer c "
            "JOIN authentication_customercompany cc ON cc.customer_id = c.id "
            "JOIN authentication_user u ON u.id = c.user_id "
            "WHERE cc.company_id = %s AND u.phone LIKE %s ORDER BY c.id DESC",
        ),
    )
)


def contact_find(*, company_id: int, number: str | None) -> Contact:
    """Find the company's lead, customer and deal whose phone is ``number`` (any stored format).

    Phones are free text in the shared tables: the candidates whose phone holds the number's
    last digits (the newest 50 of each kind) are read in one query, then compared in E.164; the
    newest match of each kind wins.
    """
    e164 = e164_or_none(number)
    if e164 is None:
        return Contact()
    tail = f"%{e164[-4:]}%"  # digits only: nothing to escape for LIKE
    with connection.cursor() as cursor:
        cursor.execute(_CANDIDATES_SQL, [company_id, tail] * 3)
        rows = cursor.fetchall()
    found: dict[str, int] = {}
    for kind, pk, phone, _rank in sorted(rows, key=lambda row: row[3]):
        if kind not in found and _same_number(phone, e164):
            found[kind] = pk
    lead = _deferred(Lead, found.get("lead"), company_id=company_id)
    deal = _deferred(Deal, found.get("deal"), company_id=company_id)
    if deal is None and lead is not None:
        deal = (
            lead.deals.filter(company_id=company_id)
            .only("id", "company_id")
            .order_by("-created_at")
            .first()
        )
    customer = _deferred(Customer, found.get("customer"))
    return Contact(lead=lead, customer=customer, deal=deal)


def _deferred(model, pk: int | None, **known: Any):
    """The row ``pk`` of ``model`` with only its id (and ``known`` columns) loaded, or None."""
    if pk is None:
        return None
    given = {"id": pk, **known}
    # from_db takes the loaded columns in the model's field order.
    names = [f.attname for f in model._meta.concrete_fields if f.attname in given]
    return model.from_db(connection.alias, names, [given[name] for name in names])


def call_ensure(
    *,
    call_sid: str,
    direction: str,
    from_number: str,
    to_number: str,
    status: str = CallStatus.INITIATED,
    sid_locked: bool = False,
    batch: CallBatch | None = None,
    **fields: Any,
) -> tuple[Call | None, bool]:
    """Return the call with this CallSid, locked, and whether it was created just now.

    An unknown call is created (with ``status`` and ``fields``) when a company owns its
    number; the call is None when none does. ``sid_locked=True``: the caller took the CallSid
    lock in this transaction already, before this function's first read (see
    :func:`call_sid_lock_sql`).

    ``batch``: a batch's calls, read with ``select_for_update`` under the CallSid locks the
    caller holds (:func:`calls_locked`). A sid missing from it has no call yet; a call made
    here is added to it. The insert then has no savepoint: a duplicate sid fails the caller's
    transaction, which applies its callbacks one by one instead.
    """
    if batch is not None:
        call = batch.calls.get(call_sid)
        if call is not None:
            return call, False
        made = _call_make(call_sid, direction, from_number, to_number, status, batch, fields)
        if made[0] is not None:
            batch.calls[call_sid] = made[0]
        return made
    call = Call.objects.select_for_update().filter(twilio_call_sid=call_sid).first()
    if call is not None:
        return call, False
    if not sid_locked and _call_sid_lock(call_sid):
        # Whoever held the lock may have created the call; we see it once they committed.
        call = Call.objects.select_for_update().filter(twilio_call_sid=call_sid).first()
        if call is not None:
            return call, False
    return _call_make(call_sid, direction, from_number, to_number, status, None, fields)


def _call_make(
    call_sid: str,
    direction: str,
    from_number: str,
    to_number: str,
    status: str,
    batch: CallBatch | None,
    fields: dict[str, Any],
) -> tuple[Call | None, bool]:
    """Adopt or create the call of a CallSid nobody has yet; the caller holds its lock.

    In a batch, a company number is looked up once, and the insert has no savepoint."""
    savepoint = batch is None
    if direction == CallDirection.OUTBOUND:
        # Under the CallSid lock, so a second callback for this sid waits and then finds it.
        call = _placeholder_adopt(call_sid, from_number, to_number)
        if call is not None:
            return call, False
    ours, theirs = (to_number, from_number)
    if direction == CallDirection.OUTBOUND:
        ours, theirs = (from_number, to_number)
    number = batch.number_find(ours) if batch is not None else company_number_find(ours)
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
    try:
        # Every row linked was found within the number's company (call_create's checks hold);
        # the CallSid lock is held and a duplicate's IntegrityError is caught below. call_insert
        # is atomic: a failed insert rolls back to its own savepoint.
        created = call_insert(
            company=number.company,
            direction=direction,
            from_number=e164_or_none(from_number) or from_number[:20],
            to_number=e164_or_none(to_number) or to_number[:20],
            twilio_call_sid=call_sid,
            status=status,
            validate_unique=False,
            savepoint=savepoint,
            phone_number=number,
            user=user,
            lead=contact.lead,
            customer=contact.customer,
            deal=contact.deal,
            **fields,
        )
    except (IntegrityError, ValidationError):
        if not savepoint:
            raise  # the transaction is broken: the caller's fallback takes it from here
        # Another writer created it meanwhile (outside the lock: the CRM, a REST sync).
        call = Call.objects.select_for_update().filter(twilio_call_sid=call_sid).first()
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


def call_outbound_find(*, call_sid: str, from_number: str, to_number: str) -> Call | None:
    """Return the click-to-call row of this CallSid, with its user and number, or None.

    Twilio may fetch the call's TwiML before :func:`call_place` has stored the sid; the row
    still waiting for it is adopted then, as a status callback would.
    """
    calls = Call.objects.select_related("user", "phone_number")
    call = calls.filter(twilio_call_sid=call_sid).first()
    if call is not None:
        return call
    with transaction.atomic():
        _call_sid_lock(call_sid)
        adopted = calls.filter(twilio_call_sid=call_sid).first() or _placeholder_adopt(
            call_sid, from_number, to_number
        )
    if adopted is None:
        return None
    return calls.filter(pk=adopted.pk).first()


def call_sid_lock_sql(column: str) -> tuple[str, tuple[int]] | None:
    """SQL taking the CallSid lock of ``column``'s value, to read along with a row (PostgreSQL).

    A caller that reads its own row with this in the same statement holds the lock from then
    on, and passes ``sid_locked=True`` to :func:`call_ensure`: one statement fewer, and no
    second read, for a call not known yet. None where no lock is needed (SQLite).

    Read it over the rows a ``FOR UPDATE`` subquery returns, not in the select list of the
    locking query itself: PostgreSQL evaluates that list below LockRows, so the lock would be
    waited for even on a row that ``SKIP LOCKED`` then skips.
    """
    if connection.vendor != "postgresql":
        return None
    # ``column`` comes from the caller's model, never from a request.
    return f"pg_advisory_xact_lock(%s, hashtext({column}))", (_CALL_SID_LOCK_CLASS,)


@dataclass
class CallBatch:
    """What the callbacks of one batch share: their calls by CallSid, read locked, the CallSids
    another transaction holds (``busy``: their rows are left to be applied alone), and the
    company numbers looked up so far (a busy line's calls come to the same few numbers)."""

    calls: dict[str, Call]
    busy: frozenset[str] = frozenset()
    numbers: dict[str | None, MatchedNumber | None] = field(default_factory=dict)

    def number_find(self, number: str | None) -> MatchedNumber | None:
        if number not in self.numbers:
            self.numbers[number] = company_number_find(number)
        return self.numbers[number]


# How long a batch waits for the CallSid locks another batch or job holds (they hold them for
# milliseconds); past it, those CallSids are busy and their rows are applied alone.
BATCH_LOCK_WAIT_MS = 500


def calls_locked(call_sids: list[str]) -> CallBatch:
    """Take what a batch's CallSids need: their locks, and their calls' rows.

    The locks free now are taken at once. Those another transaction holds (another batch, a
    job applying one callback) are waited for, in key order, at most ``BATCH_LOCK_WAIT_MS``:
    callbacks of one call then apply in turn, each status pushed. A CallSid still held after
    that, or whose call's row another writer has locked (the CRM, a psql session), is
    ``busy``: its rows are applied alone, so one held call holds up no other call of the batch.
    The calls are read after the locks, in a statement whose snapshot sees what an earlier
    holder of a lock created. Pass the result as ``batch`` to :func:`call_ensure`.
    """
    sids = sorted(set(call_sids))
    busy: set[str] = set()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sid FROM unnest(%s::text[]) AS sid "
                "WHERE NOT pg_try_advisory_xact_lock(%s, hashtext(sid))",
                [sids, _CALL_SID_LOCK_CLASS],
            )
            busy = {row[0] for row in cursor.fetchall()}
        if busy:
            busy = _sid_locks_wait(sorted(busy))
    mine = [sid for sid in sids if sid not in busy]
    # SKIP LOCKED (ignored where rows cannot be locked: SQLite serializes writers instead).
    found = Call.objects.select_for_update(skip_locked=True).filter(twilio_call_sid__in=mine)
    calls = {call.twilio_call_sid: call for call in found}
    missing = [sid for sid in mine if sid not in calls]
    if missing and connection.vendor == "postgresql":
        # A call skipped above exists, held by another writer: not a call to make.
        held = Call.objects.filter(twilio_call_sid__in=missing)
        busy.update(held.values_list("twilio_call_sid", flat=True))
    return CallBatch(calls=calls, busy=frozenset(busy))


def _sid_locks_wait(sids: list[str]) -> set[str]:
    """Wait a little for CallSid locks others hold; return those still not ours (PostgreSQL).

    In a savepoint: a lock that times out (or two batches waiting on each other) rolls back
    only the wait, and the batch goes on without those CallSids.
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {int(BATCH_LOCK_WAIT_MS)}")
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(sid)) FROM "
                "(SELECT sid FROM unnest(%s::text[]) AS sid ORDER BY hashtext(sid)) AS sids",
                [_CALL_SID_LOCK_CLASS, sids],
            )
            cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
    except OperationalError:
        logger.info("CallSid locks still held after %d ms: applied alone", BATCH_LOCK_WAIT_MS)
        return set(sids)
    return set()


def _call_sid_lock(call_sid: str) -> bool:
    """Serialize creating the call of one CallSid (until commit); False where not needed."""
    if connection.vendor != "postgresql":
        return False  # SQLite transactions are IMMEDIATE: writers are serialized already
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_CALL_SID_LOCK_CLASS, call_sid]
        )
    return True


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
    active = CompanyUser.objects.filter(company_id=call.company_id, user=owner, is_active=True)
    return owner if active.exists() else None


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
