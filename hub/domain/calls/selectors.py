"""Reads on calls: the company number Twilio called, the caller's lead, customer and deal, a call,
and a member's calls of a day or missed ones.

Twilio's numbers are matched here (``company_number_find``, ``contact_find``) for the callbacks
(:mod:`hub.domain.calls.callbacks`), the webhooks' answers and reconciliation. Nothing here writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from hub.domain.authentication.models import Company, Customer, User
from hub.domain.calls.models import Call, CallDirection, CallStatus, Disposition, PhoneNumber
from hub.domain.calls.services import phone_normalize
from hub.domain.crm.models import Deal, Lead

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

logger = logging.getLogger(__name__)

# Rows of one number read to tell whether more than one company holds it.
MAX_NUMBER_MATCHES = 10


def e164_or_none(number: str | None) -> str | None:
    """Return the number in E.164, or None for a withheld or malformed number."""
    if not number:
        return None
    try:
        return phone_normalize(number)
    except ValidationError:
        return None


@dataclass(frozen=True)
class Contact:
    lead: Lead | None = None
    customer: Customer | None = None
    deal: Deal | None = None


class _NumberAnnotations(TypedDict):
    owner_is_member: bool


# A PhoneNumber as company_number_find returns it, annotated with ``owner_is_member``.
MatchedNumber: TypeAlias = "WithAnnotations[PhoneNumber, _NumberAnnotations]"

# The active rows of a number, with what matching and ringing read of their company and owner.
# Raw SQL for the same reason as _CANDIDATES_SQL below: the ORM queryset (select_related, only,
# an Exists annotation) cost more to build and compile than to run, on every new call.
# Its last column mirrors the active-member rule of hub.domain.authentication.selectors
# (company_member_is_active: an active CompanyUser row of an active company) for the number's
# owner; tests/domain/test_company_number_member_rule.py checks that the two agree.
_NUMBER_SQL = (
    "SELECT n.id, n.company_id, n.user_id, n.phone_number, n.is_active, c.company_name, "
    "u.email, u.phone, c.is_active AND EXISTS (SELECT 1 FROM authentication_companyuser m "
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


def call_locked_find(*, call_sid: str) -> Call | None:
    """The call of this CallSid, its row locked until the transaction ends, or None."""
    return Call.objects.select_for_update().filter(twilio_call_sid=call_sid).first()


def call_outbound_find(*, call_sid: str) -> Call | None:
    """Return the call of this CallSid with its user and number, or None (a read only: a
    click-to-call row still waiting for its sid is adopted by ``call_outbound_take``)."""
    return (
        Call.objects.select_related("user", "phone_number").filter(twilio_call_sid=call_sid).first()
    )


#: An inbound call that ended so is one nobody took: missed (a voicemail left is one too).
MISSED_STATUSES = (CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.CANCELLED, CallStatus.FAILED)


@dataclass(frozen=True)
class CallPage:
    """The calls to show (newest first) and how many matched in all."""

    calls: list[Call]
    total: int


def company_zone(company: Company) -> ZoneInfo:
    """The company's time zone (``Company.timezone``), else the hub's (``TIME_ZONE``)."""
    for name in (company.timezone, settings.TIME_ZONE):
        try:
            return ZoneInfo((name or "").strip())
        except (ZoneInfoNotFoundError, ValueError):
            continue  # a free-text column: "", "GMT+2" and the like name no zone
    return ZoneInfo("UTC")


def company_today(*, company: Company) -> date:
    """Today's date where the company is."""
    return timezone.localtime(timezone.now(), company_zone(company)).date()


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def calls_for_member(
    *,
    user: User,
    company: Company,
    day: date | None = None,
    since: date | None = None,
    missed: bool = False,
    limit: int = 20,
) -> CallPage:
    """The member's calls in the company, newest first: placed or taken by them, or inbound to
    a number they own.

    ``day``: only those of that day, ``since``: of that day or later (the company's days, in
    its time zone). ``missed``: only inbound calls nobody took (no answer, busy, cancelled,
    failed) or that left a voicemail.
    """
    calls = Call.objects.filter(
        Q(user=user) | Q(direction=CallDirection.INBOUND, phone_number__user=user),
        company=company,
    )
    if missed:
        calls = calls.filter(
            Q(status__in=MISSED_STATUSES) | Q(disposition=Disposition.VOICEMAIL),
            direction=CallDirection.INBOUND,
        )
    zone = company_zone(company)
    if day is not None:
        calls = calls.filter(
            created_at__gte=_day_start(day, zone),
            created_at__lt=_day_start(day + timedelta(days=1), zone),
        )
    if since is not None:
        calls = calls.filter(created_at__gte=_day_start(since, zone))
    rows = list(
        calls.select_related("company", "user", "lead", "deal", "customer__user").order_by(
            "-created_at", "-id"
        )[: max(limit, 0)]
    )
    total = len(rows) if len(rows) < limit else calls.count()
    return CallPage(calls=rows, total=total)


def call_get(*, company: Company, call_id: int) -> Call | None:
    """The company's call ``call_id`` with its contact and member, or None (another company's
    call is not found)."""
    return (
        Call.objects.select_related("company", "user", "lead", "deal", "customer__user")
        .filter(company=company, pk=call_id)
        .first()
    )
