"""Reads of the CRM's people and deals, always within one company, and the console's
pipeline board."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from operator import and_, or_

from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, Concat, Trim

from hub.domain.authentication.models import Company, CompanyUser, Customer, User
from hub.domain.crm.access import crm_can_manage, deals_visible
from hub.domain.crm.deal_selectors import MAX_ID
from hub.domain.crm.models import Deal, DealStage, DealStatus, Lead, Pipeline


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


# -- the console's pipeline board --------------------------------------------------------------


@dataclass(frozen=True)
class BoardColumn:
    """One stage of a pipeline board and the open deals in it, largest first."""

    stage: DealStage
    deals: list[Deal]
    # Closing a deal (won or lost) moves it here; no one moves a deal here by hand.
    closing: bool

    @property
    def count(self) -> int:
        return len(self.deals)

    @property
    def totals(self) -> list[tuple[str, Decimal]]:
        """The sum of the deals' values per currency, by currency code."""
        sums: dict[str, Decimal] = {}
        for deal in self.deals:
            sums[deal.currency] = sums.get(deal.currency, Decimal(0)) + deal.value
        return sorted(sums.items())


@dataclass(frozen=True)
class PipelineBoard:
    pipeline: Pipeline
    columns: list[BoardColumn]
    # False: the user sees only the deals assigned to them (a member without can_manage_deals).
    sees_all: bool


def board_pipelines(*, company_ids: list[int]) -> list[Pipeline]:
    """The active pipelines of these companies: by company name, each company's default first."""
    return list(
        Pipeline.objects.filter(company_id__in=company_ids, is_active=True)
        .select_related("company")
        .order_by("company__company_name", "company_id", "-is_default", "name", "id")
    )


def stage_closing_ids(stages: list[DealStage]) -> set[int]:
    """The stages that closing a deal moves it to: the first at 100 % (won, as
    ``deal_mark_won`` picks it) and the last at 0 % (lost), unless that is the first stage.

    ``stages``: a pipeline's active stages in order. Slack's ``/deal move`` refuses these too.
    """
    ids: set[int] = set()
    won = next((s for s in stages if s.probability == 100), None)
    if won is not None:
        ids.add(won.pk)
    zero = [s for s in stages if s.probability == 0]
    if zero and zero[-1].pk != stages[0].pk:
        ids.add(zero[-1].pk)
    return ids


def board_sees_all(*, user: User, company: Company, every_company: bool) -> bool:
    """Whether the board shows all the company's deals to the user, as ``deal.*`` events reach
    them: a superuser (``every_company``) and a member who may manage deals see all."""
    return every_company or crm_can_manage(user=user, company=company)


def board_deals(*, user: User, pipeline: Pipeline, every_company: bool) -> QuerySet[Deal]:
    """The pipeline's open deals the user may see: the audience rule of ``deal.*`` events
    (docs/PROTOCOL.md), so the board and its live feed agree."""
    if every_company:
        deals = Deal.objects.filter(company_id=pipeline.company_id)
    else:
        deals = deals_visible(user=user, company=pipeline.company)
    return deals.filter(pipeline=pipeline, status=DealStatus.OPEN)


def pipeline_board(*, user: User, pipeline: Pipeline, every_company: bool = False) -> PipelineBoard:
    """The pipeline's active stages in order (and any inactive one still holding an open deal
    the user sees), each with its open deals, largest first. Three queries."""
    deals = list(
        board_deals(user=user, pipeline=pipeline, every_company=every_company)
        .select_related("assigned_to")
        .order_by("-value", "id")
    )
    stages = list(DealStage.objects.filter(pipeline=pipeline).order_by("order"))
    closing = stage_closing_ids([s for s in stages if s.is_active])
    by_stage: dict[int, list[Deal]] = {}
    for deal in deals:
        by_stage.setdefault(deal.stage_id, []).append(deal)
    columns = [
        BoardColumn(stage=s, deals=by_stage.get(s.id, []), closing=s.id in closing)
        for s in stages
        if s.is_active or s.id in by_stage
    ]
    sees_all = board_sees_all(user=user, company=pipeline.company, every_company=every_company)
    return PipelineBoard(pipeline=pipeline, columns=columns, sees_all=sees_all)


def board_deal_get(*, user: User, deal_id: int, every_company: bool) -> Deal | None:
    """The deal (company, pipeline and stage loaded) if the user may see it, else None: a
    deal of a company where the user is not a member is None, as if it did not exist."""
    if not 0 < deal_id <= MAX_ID:
        return None
    found = Deal.objects.select_related("company", "pipeline", "stage").filter(pk=deal_id)
    deal = found.first()
    if deal is None or every_company:
        return deal
    if not deals_visible(user=user, company=deal.company).filter(pk=deal_id).exists():
        return None
    return deal


def board_stage_get(*, pipeline: Pipeline, stage_id: int) -> DealStage | None:
    """The pipeline's active stage ``stage_id``, or None."""
    if not 0 < stage_id <= MAX_ID:
        return None
    return DealStage.objects.filter(pipeline=pipeline, pk=stage_id, is_active=True).first()


def board_closing_stage_ids(*, pipeline: Pipeline) -> set[int]:
    return stage_closing_ids(
        list(DealStage.objects.filter(pipeline=pipeline, is_active=True).order_by("order"))
    )


def board_people(*, company: Company) -> dict[int, str]:
    """The names of the company's members (former ones too), for cards that arrive live."""
    members = CompanyUser.objects.filter(company=company).select_related("user").order_by("pk")
    return {m.user_id: m.user.get_full_name() for m in members}
