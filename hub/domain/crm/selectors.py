"""Reads of the CRM's people and deals, always within one company."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import and_, or_

from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, Concat, Trim

from hub.domain.authentication.models import Company, Customer
from hub.domain.crm.models import Deal, Lead


@dataclass(frozen=True)
class CallTarget:
    """Someone a salesperson may call: a lead, a customer of the company, or a deal's contact.

    ``exact``: the search named them in full (their whole name, or a deal's title or contact).
    """

    kind: str
    id: int
    name: str
    phone: str | None
    exact: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} ({self.kind})"


@dataclass(frozen=True)
class CallTargetMatches:
    """What a name search found: the targets to show, and how many more matched."""

    targets: list[CallTarget]
    more: int = 0


def _words_match(query: str, fields: tuple[str, ...]) -> Q:
    """Every word of ``query`` occurs in one of ``fields`` (case-insensitive)."""
    words = query.split() or [""]
    return reduce(
        and_, (reduce(or_, (Q(**{f"{f}__icontains": word}) for f in fields)) for word in words)
    )


def _leads(company: Company) -> QuerySet[Lead]:
    return Lead.objects.filter(company=company).order_by("first_name", "last_name", "id")


def _customers(company: Company) -> QuerySet[Customer]:
    return (
        Customer.objects.filter(companies__company=company)
        .select_related("user")
        .distinct()
        .order_by("user__first_name", "user__last_name", "id")
    )


def _deals(company: Company) -> QuerySet[Deal]:
    return Deal.objects.filter(company=company).order_by("title", "id")


def _lead_target(lead: Lead, exact: bool = False) -> CallTarget:
    name = f"{lead.first_name or ''} {lead.last_name or ''}".strip()
    return CallTarget("lead", lead.pk, name, lead.phone, exact)


def _customer_target(customer: Customer, exact: bool = False) -> CallTarget:
    user = customer.user
    return CallTarget("customer", customer.pk, user.get_full_name(), user.phone, exact)


def _deal_target(deal: Deal, exact: bool = False) -> CallTarget:
    name = f"{deal.title} – {deal.contact_name}"
    return CallTarget("deal", deal.pk, name, deal.contact_phone, exact)


def _full_name(first: str, last: str) -> Trim:
    return Trim(Concat(Coalesce(first, Value("")), Value(" "), Coalesce(last, Value(""))))


def _exact_first(queryset: QuerySet, exact: Q) -> QuerySet:
    """Order the full-name matches first, then as ``queryset`` was ordered."""
    ordering = queryset.query.order_by
    flagged = queryset.annotate(
        is_exact=Case(
            When(exact, then=Value(True)), default=Value(False), output_field=BooleanField()
        )
    )
    return flagged.order_by("-is_exact", *ordering)


def _kind_matches(company: Company, query: str) -> list[tuple[QuerySet, Callable]]:
    leads = _exact_first(
        _leads(company)
        .filter(_words_match(query, ("first_name", "last_name", "company_name")))
        .annotate(full_name=_full_name("first_name", "last_name")),
        Q(full_name__iexact=query),
    )
    customers = _exact_first(
        _customers(company)
        .filter(_words_match(query, ("user__first_name", "user__last_name")))
        .annotate(full_name=_full_name("user__first_name", "user__last_name")),
        Q(full_name__iexact=query),
    )
    deals = _exact_first(
        _deals(company).filter(_words_match(query, ("title", "contact_name", "company_name"))),
        Q(title__iexact=query) | Q(contact_name__iexact=query),
    )
    return [(leads, _lead_target), (customers, _customer_target), (deals, _deal_target)]


def call_target_search(*, company: Company, query: str, limit: int = 6) -> CallTargetMatches:
    """Return up to ``limit`` leads, customers and deals of ``company`` whose names match.

    Full-name matches come first; the rest are shared out a kind at a time (a lead, a
    customer, a deal, a lead…), so many matches of one kind never hide the other kinds.
    """
    query = " ".join(query.split())
    pools: list[list[CallTarget]] = []
    total = 0
    for queryset, target in _kind_matches(company, query):
        rows = list(queryset[:limit])
        total += queryset.count() if len(rows) == limit else len(rows)
        pools.append([target(row, row.is_exact) for row in rows])
    rank = {(t.kind, t.id): n for n, t in enumerate(t for pool in pools for t in pool)}
    chosen = [t for pool in pools for t in pool if t.exact][:limit]
    rest = [[t for t in pool if not t.exact] for pool in pools]
    while len(chosen) < limit and any(rest):
        for pool in rest:
            if pool and len(chosen) < limit:
                chosen.append(pool.pop(0))
    chosen.sort(key=lambda t: (not t.exact, rank[(t.kind, t.id)]))
    return CallTargetMatches(targets=chosen, more=total - len(chosen))


def call_target_get(*, company: Company, kind: str, target_id: int) -> CallTarget | None:
    """Return the lead, customer or deal ``target_id`` of ``company``, or None."""
    if kind == "lead":
        lead = _leads(company).filter(pk=target_id).first()
        return _lead_target(lead) if lead else None
    if kind == "customer":
        customer = _customers(company).filter(pk=target_id).first()
        return _customer_target(customer) if customer else None
    if kind == "deal":
        deal = _deals(company).filter(pk=target_id).first()
        return _deal_target(deal) if deal else None
    return None
