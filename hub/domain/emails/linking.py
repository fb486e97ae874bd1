"""A thread's CRM records, found by its participants' e-mail addresses.

A thread whose participants include the e-mail of a lead, of a deal's contact or of a customer
of the thread's company is linked to them. Only empty links are filled: a link a person made
is never replaced, not even by a concurrent sync (each update is conditional on the column
still being empty). Nothing is ever linked across companies.

A sync links a whole batch of threads at once (:func:`threads_crm_link`): one look-up per kind
for all the batch's addresses, the choice per thread made in Python, one UPDATE per kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import BigIntegerField, Case, Q, QuerySet, Value, When
from django.db.models.functions import Lower

from hub.domain.authentication.models import CustomerCompany, CustomerStatus
from hub.domain.crm.models import Deal, DealStatus, Lead, LeadStatus
from hub.domain.emails.models import EmailAccount, EmailThread

KINDS = ("lead", "deal", "customer")
# Leads still being worked come before converted or unqualified ones.
_LEAD_OPEN = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)
# Addresses per look-up and threads per UPDATE: SQLite allows 32,766 parameters a statement.
_ADDRESS_CHUNK = 5000
_UPDATE_CHUNK = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Candidate:
    """A record one of the addresses names; ``rank`` orders them, preferred first."""

    record_id: int
    company_id: int
    addresses: tuple[str | None, ...]
    rank: tuple[int, timedelta, int]


def _addresses(thread: EmailThread, own: str | None) -> set[str]:
    own = (own or "").strip().lower()
    found = {p.strip().lower() for p in thread.participants or [] if isinstance(p, str)}
    return {a for a in found if a and "@" in a and a != own}


def thread_crm_link(thread: EmailThread) -> bool:
    """Set the thread's lead / deal / customer from its participants; True if it changed."""
    return threads_crm_link([thread]) > 0


def threads_crm_link(threads: list[EmailThread]) -> int:
    """Fill the threads' empty lead / deal / customer links from their participants; return
    how many threads changed. A few queries whatever the number of threads; each thread
    object ends up showing what is stored (a link made meanwhile by someone else included)."""
    threads = [t for t in threads if t.pk is not None and any(_empty(t, k) for k in KINDS)]
    own = _own_addresses(threads)
    pending: dict[str, list[tuple[EmailThread, set[str]]]] = {}
    for thread in threads:
        addresses = _addresses(thread, own.get(thread.email_account_id))
        for kind in KINDS if addresses else ():
            if _empty(thread, kind):
                pending.setdefault(kind, []).append((thread, addresses))
    picks = {kind: _choose(kind, wanted) for kind, wanted in pending.items()}
    picks = {kind: chosen for kind, chosen in picks.items() if chosen}
    if not picks:
        return 0
    with transaction.atomic():
        # Locked, so that what we fill is exactly what was still empty (a sync holds most of
        # these locks already).
        rows = (
            EmailThread.objects.select_for_update()
            .filter(pk__in={pk for chosen in picks.values() for pk in chosen})
            .order_by("pk")
            .values_list("pk", *(f"{k}_id" for k in KINDS))
        )
        stored = {pk: dict(zip(KINDS, links, strict=True)) for pk, *links in rows}
        changed: set[int] = set()
        for kind, chosen in picks.items():
            fill = {
                pk: record_id
                for pk, record_id in chosen.items()
                if pk in stored and stored[pk][kind] is None
            }
            _links_fill(kind, fill)
            for pk, record_id in fill.items():
                stored[pk][kind] = record_id
            changed |= fill.keys()
    for thread in threads:
        for kind, record_id in stored.get(thread.pk, {}).items():
            setattr(thread, f"{kind}_id", record_id)  # ours, or the one made meanwhile
    return len(changed)


def _empty(thread: EmailThread, kind: str) -> bool:
    return getattr(thread, f"{kind}_id") is None


def _own_addresses(threads: list[EmailThread]) -> dict[int, str]:
    """Each thread's account's own address (one query for the accounts not loaded yet)."""
    loaded = EmailThread.email_account.is_cached
    own = {t.email_account_id: t.email_account.email for t in threads if loaded(t)}
    missing = {t.email_account_id for t in threads} - own.keys()
    if missing:
        own |= dict(EmailAccount.objects.filter(pk__in=missing).values_list("pk", "email"))
    return own


def _choose(kind: str, wanted: list[tuple[EmailThread, set[str]]]) -> dict[int, int]:
    """The record of ``kind`` each thread gets (thread pk → record id), if any."""
    companies = {thread.company_id for thread, _ in wanted}
    addresses = set().union(*(found for _, found in wanted))
    candidates = sorted(_FINDERS[kind](companies, addresses), key=lambda c: c.rank)
    best: dict[tuple[int, str], int] = {}  # (company, address) → its preferred candidate
    for position, candidate in enumerate(candidates):
        for address in candidate.addresses:
            if address:
                best.setdefault((candidate.company_id, address), position)
    chosen = {}
    for thread, found in wanted:
        positions = [best[key] for a in found if (key := (thread.company_id, a)) in best]
        if positions:
            chosen[thread.pk] = candidates[min(positions)].record_id
    return chosen


def _links_fill(kind: str, chosen: dict[int, int]) -> None:
    """Set ``kind`` on the threads still without one, one UPDATE for them all."""
    items = list(chosen.items())
    for start in range(0, len(items), _UPDATE_CHUNK):
        part = items[start : start + _UPDATE_CHUNK]
        value = Case(
            *(When(pk=pk, then=Value(record_id)) for pk, record_id in part),
            output_field=BigIntegerField(),
        )
        EmailThread.objects.filter(
            pk__in=[pk for pk, _ in part], **{f"{kind}__isnull": True}
        ).update(**{kind: value})


def _chunks(addresses: set[str]) -> Iterator[list[str]]:
    ordered = sorted(addresses)
    for start in range(0, len(ordered), _ADDRESS_CHUNK):
        yield ordered[start : start + _ADDRESS_CHUNK]


def _newest_first(created_at: datetime, pk: int) -> tuple[timedelta, int]:
    return -(created_at - _EPOCH), -pk


def _leads(companies: set[int], addresses: set[str]) -> Iterable[_Candidate]:
    """Leads with one of the addresses; open ones first, then the newest."""
    for chunk in _chunks(addresses):
        leads: QuerySet[Lead] = Lead.objects.filter(company_id__in=companies)
        rows = (
            leads.annotate(address=Lower("email"))
            .filter(address__in=chunk)
            .values_list("pk", "company_id", "address", "status", "created_at")
        )
        for pk, company_id, address, status, created_at in rows:
            rank = (0 if status in _LEAD_OPEN else 1, *_newest_first(created_at, pk))
            yield _Candidate(pk, company_id, (address,), rank)


def _deals(companies: set[int], addresses: set[str]) -> Iterable[_Candidate]:
    """Deals whose contact (or the lead it came from) has one of the addresses; open ones
    first, then the newest."""
    seen: set[int] = set()
    for chunk in _chunks(addresses):
        deals: QuerySet[Deal] = Deal.objects.filter(company_id__in=companies)
        rows = (
            deals.annotate(address=Lower("contact_email"), lead_address=Lower("lead__email"))
            .filter(Q(address__in=chunk) | Q(lead_address__in=chunk))
            .values_list("pk", "company_id", "address", "lead_address", "status", "created_at")
        )
        for pk, company_id, address, lead_address, status, created_at in rows:
            if pk not in seen:  # a deal may match in two chunks
                seen.add(pk)
                rank = (0 if status == DealStatus.OPEN else 1, *_newest_first(created_at, pk))
                yield _Candidate(pk, company_id, (address, lead_address), rank)


def _customers(companies: set[int], addresses: set[str]) -> Iterable[_Candidate]:
    """Customers of the companies (their ``CustomerCompany`` rows) whose user has one of the
    addresses; active customers first, then the newest link."""
    for chunk in _chunks(addresses):
        links: QuerySet[CustomerCompany] = CustomerCompany.objects.filter(company_id__in=companies)
        rows = (
            links.annotate(address=Lower("customer__user__email"))
            .filter(address__in=chunk)
            .values_list("pk", "company_id", "customer_id", "address", "customer_status")
        )
        for pk, company_id, customer_id, address, status in rows:
            rank = (0 if status == CustomerStatus.ACTIVE else 1, timedelta(0), -pk)
            yield _Candidate(customer_id, company_id, (address,), rank)


_FINDERS: dict[str, Callable[[set[int], set[str]], Iterable[_Candidate]]] = {
    "lead": _leads,
    "deal": _deals,
    "customer": _customers,
}
