"""Reads of the CRM's people and deals, always within one company."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import and_, or_

from django.db.models import Q, QuerySet

from hub.domain.authentication.models import Company, Customer
from hub.domain.crm.models import Deal, Lead

CALL_TARGET_KINDS = ("lead", "customer", "deal")


@dataclass(frozen=True)
class CallTarget:
    """Someone a salesperson may call: a lead, a customer of the company, or a deal's contact."""

    kind: str
    id: int
    name: str
    phone: str | None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.kind})"


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


def _lead_target(lead: Lead) -> CallTarget:
    return CallTarget("lead", lead.pk, f"{lead.first_name} {lead.last_name}".strip(), lead.phone)


def _customer_target(customer: Customer) -> CallTarget:
    user = customer.user
    return CallTarget("customer", customer.pk, user.get_full_name(), user.phone)


def _deal_target(deal: Deal) -> CallTarget:
    return CallTarget("deal", deal.pk, f"{deal.title} – {deal.contact_name}", deal.contact_phone)


def call_target_search(*, company: Company, query: str, limit: int = 6) -> list[CallTarget]:
    """Return up to ``limit`` leads, customers and deals of ``company`` whose names match."""
    leads = _leads(company).filter(
        _words_match(query, ("first_name", "last_name", "company_name"))
    )[:limit]
    customers = _customers(company).filter(
        _words_match(query, ("user__first_name", "user__last_name"))
    )[:limit]
    deals = _deals(company).filter(_words_match(query, ("title", "contact_name", "company_name")))[
        :limit
    ]
    found = [
        *(_lead_target(lead) for lead in leads),
        *(_customer_target(customer) for customer in customers),
        *(_deal_target(deal) for deal in deals),
    ]
    return found[:limit]


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
