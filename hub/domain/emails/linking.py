"""A thread's CRM records, found by its participants' e-mail addresses.

A thread whose participants include the e-mail of a lead, of a deal's contact or of a customer
of the thread's company is linked to them. Only empty links are filled: a link a person made
is never replaced, not even by a concurrent sync (each update is conditional on the column
still being empty). Nothing is ever linked across companies.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Lower

from hub.domain.authentication.models import Customer, CustomerCompany, CustomerStatus
from hub.domain.crm.models import Deal, DealStatus, Lead, LeadStatus
from hub.domain.emails.models import EmailThread

# Leads still being worked come before converted or unqualified ones.
_LEAD_OPEN = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)


def thread_addresses(thread: EmailThread) -> set[str]:
    """The thread's participants, lower-cased, without the account's own address."""
    own = (thread.email_account.email or "").strip().lower()
    found = {p.strip().lower() for p in thread.participants or [] if isinstance(p, str)}
    return {a for a in found if a and "@" in a and a != own}


def thread_crm_link(thread: EmailThread) -> bool:
    """Set the thread's lead / deal / customer from its participants; True if it changed."""
    missing = [
        name for name in ("lead", "deal", "customer") if getattr(thread, f"{name}_id") is None
    ]
    if not missing:
        return False
    addresses = thread_addresses(thread)
    if not addresses:
        return False
    finders = {"lead": _lead_find, "deal": _deal_find, "customer": _customer_find}
    changed = False
    with transaction.atomic():
        for name in missing:
            found = finders[name](company_id=thread.company_id, addresses=addresses)
            if found is None:
                continue
            updated = EmailThread.objects.filter(pk=thread.pk, **{f"{name}__isnull": True}).update(
                **{name: found}
            )
            if updated:
                setattr(thread, name, found)
                changed = True
            else:
                # Someone linked it meanwhile: show their choice, never ours.
                thread.refresh_from_db(fields=[name])
    return changed


def _lead_find(*, company_id: int, addresses: set[str]) -> Lead | None:
    leads: QuerySet[Lead] = Lead.objects.filter(company_id=company_id)
    return (
        leads.annotate(address=Lower("email"))
        .filter(address__in=addresses)
        .annotate(rank=_first_when(Q(status__in=_LEAD_OPEN)))
        .order_by("rank", "-created_at", "-id")
        .first()
    )


def _deal_find(*, company_id: int, addresses: set[str]) -> Deal | None:
    """The newest open deal whose contact (or the lead it came from) has one of the addresses,
    else the newest closed one."""
    deals: QuerySet[Deal] = Deal.objects.filter(company_id=company_id)
    return (
        deals.annotate(address=Lower("contact_email"), lead_address=Lower("lead__email"))
        .filter(Q(address__in=addresses) | Q(lead_address__in=addresses))
        .annotate(rank=_first_when(Q(status=DealStatus.OPEN)))
        .order_by("rank", "-created_at", "-id")
        .first()
    )


def _customer_find(*, company_id: int, addresses: set[str]) -> Customer | None:
    """A customer of the company (its ``CustomerCompany`` row) whose user has one of the
    addresses; active customers first."""
    links: QuerySet[CustomerCompany] = CustomerCompany.objects.filter(company_id=company_id)
    link = (
        links.annotate(address=Lower("customer__user__email"))
        .filter(address__in=addresses)
        .annotate(rank=_first_when(Q(customer_status=CustomerStatus.ACTIVE)))
        .order_by("rank", "-id")
        .select_related("customer")
        .first()
    )
    return link.customer if link is not None else None


def _first_when(condition: Q) -> Case:
    return Case(When(condition, then=Value(0)), default=Value(1), output_field=IntegerField())
