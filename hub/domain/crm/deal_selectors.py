"""Reads of deals, leads and pipelines for one member of one company (the Slack commands' view).

Every read goes through :func:`hub.domain.crm.access.deals_visible` or ``leads_visible``, so a
member without ``can_manage_deals`` sees only what is assigned to them and an outsider sees
nothing. The ``*_match`` functions read what a member typed (a stage, a lead status, a
colleague) forgivingly: exact first, then a unique prefix, then close spellings.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import Count, DecimalField, ExpressionWrapper, F, QuerySet, Sum, Value, Window
from django.utils import timezone

from hub.domain.authentication.models import Company, User
from hub.domain.authentication.selectors import member_active_q
from hub.domain.crm.access import deals_visible, leads_visible
from hub.domain.crm.models import Deal, DealStage, DealStatus, Lead, LeadStatus, Pipeline

T = TypeVar("T")
R = TypeVar("R", Deal, Lead)

MAX_PAGE = 100
# Ids are PostgreSQL integers; a larger number can name no row.
MAX_ID = 2**31 - 1
OPEN_LEAD_STATUSES = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)
DEFAULT_CURRENCY = "USD"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
CLOSE_CUTOFF = 0.6
# A close spelling this much nearer (in difflib ratio) than the next best is taken alone.
CLEAR_MARGIN = 0.08
# What a member types is a name, not an essay; longer text is cut before fuzzy matching.
MATCH_TEXT_MAX = 200


@dataclass(frozen=True)
class DealPage:
    deals: list[Deal]
    total: int


@dataclass(frozen=True)
class LeadPage:
    leads: list[Lead]
    total: int


@dataclass(frozen=True)
class Match(Generic[T]):
    """What a typed name matched: ``found`` when one thing, else the ``candidates`` to offer."""

    found: T | None
    candidates: list[T] = field(default_factory=list)


@dataclass(frozen=True)
class StageTotal:
    stage: DealStage
    count: int
    total: Decimal
    weighted: Decimal


@dataclass(frozen=True)
class PipelineSummary:
    """Open deals of one pipeline that a member may see, stage by stage.

    ``count`` counts every deal; ``total`` and ``weighted`` sum only the deals in ``currency``
    (the company's main one); the other currencies' totals are in ``other_currencies``.
    """

    pipeline: Pipeline | None
    currency: str
    stages: list[StageTotal]
    count: int
    total: Decimal
    weighted: Decimal
    other_currencies: dict[str, Decimal]


def _page(limit: int, offset: int) -> tuple[int, int]:
    return max(0, min(limit, MAX_PAGE)), max(0, offset)


def _in(company: Company, rows: list[R]) -> list[R]:
    """Give each row (filtered by ``company``) that company object: no query when it is read."""
    for row in rows:
        row.company = company
    return rows


def _id_ok(record_id: int) -> bool:
    return isinstance(record_id, int) and 0 < record_id <= MAX_ID


def company_today(company: Company) -> date:
    """Today in the company's time zone (``Company.timezone`` when valid, else TIME_ZONE)."""
    try:
        zone = ZoneInfo(company.timezone or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(settings.TIME_ZONE)
    return timezone.now().astimezone(zone).date()


def _month(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


# -- deals and leads ---------------------------------------------------------------------------


def _counted_page(
    company: Company, ordered: QuerySet[R], rows: QuerySet[R], *, limit: int, offset: int
) -> tuple[list[R], int]:
    """A page of ``ordered`` and how many rows there are in all, in one query.

    ``COUNT(*) OVER ()`` counts the filtered rows beside each row of the page (a Slack
    command's answer saves a round trip); a page past the end has no row to carry it, so the
    count is asked for then.
    """
    page: list[R] = list(ordered.annotate(_total=Window(Count("pk")))[offset : offset + limit])
    total = getattr(page[0], "_total") if page else rows.count()  # noqa: B009 (annotated)
    return _in(company, page), total


def deal_list(
    *,
    user: User,
    company: Company,
    stage: DealStage | None = None,
    mine: bool = False,
    closing_this_month: bool = False,
    status: str | None = DealStatus.OPEN,
    limit: int = 10,
    offset: int = 0,
) -> DealPage:
    """One page of the deals the user may see, closing soonest first, then the largest."""
    limit, offset = _page(limit, offset)
    deals = deals_visible(user=user, company=company)
    if status is not None:
        deals = deals.filter(status=status)
    if stage is not None:
        deals = deals.filter(stage=stage)
    if mine:
        deals = deals.filter(assigned_to=user)
    if closing_this_month:
        deals = deals.filter(expected_close_date__range=_month(company_today(company)))
    ordered = deals.select_related("stage", "pipeline", "assigned_to").order_by(
        F("expected_close_date").asc(nulls_last=True), "-value", "id"
    )
    rows, total = _counted_page(company, ordered, deals, limit=limit, offset=offset)
    return DealPage(deals=rows, total=total)


def deal_get(*, user: User, company: Company, deal_id: int) -> Deal | None:
    """The deal if the user may see it (stage, pipeline and assignee loaded), else None."""
    if not _id_ok(deal_id):
        return None
    deals = deals_visible(user=user, company=company)
    found = deals.select_related("stage", "pipeline", "assigned_to").filter(pk=deal_id)
    return next(iter(_in(company, list(found))), None)


def lead_list(
    *,
    user: User,
    company: Company,
    status: str | None = None,
    mine: bool = False,
    limit: int = 10,
    offset: int = 0,
) -> LeadPage:
    """One page of the leads the user may see, newest first (``status`` None: the open ones)."""
    limit, offset = _page(limit, offset)
    leads = leads_visible(user=user, company=company)
    if status is None:
        leads = leads.filter(status__in=OPEN_LEAD_STATUSES)
    else:
        leads = leads.filter(status=status)
    if mine:
        leads = leads.filter(assigned_to=user)
    ordered = leads.select_related("assigned_to").order_by("-created_at", "-id")
    rows, total = _counted_page(company, ordered, leads, limit=limit, offset=offset)
    return LeadPage(leads=rows, total=total)


def lead_get(*, user: User, company: Company, lead_id: int) -> Lead | None:
    """The lead if the user may see it (assignee loaded), else None."""
    if not _id_ok(lead_id):
        return None
    leads = leads_visible(user=user, company=company)
    found = leads.select_related("assigned_to").filter(pk=lead_id)
    return next(iter(_in(company, list(found))), None)


# -- pipelines ---------------------------------------------------------------------------------


def pipeline_default(*, company: Company) -> Pipeline | None:
    """The company's default pipeline, or its oldest active one when none is the default."""
    return (
        Pipeline.objects.filter(company=company, is_active=True)
        .order_by("-is_default", "id")
        .first()
    )


def pipeline_stages(*, pipeline: Pipeline) -> list[DealStage]:
    """The pipeline's active stages, in order."""
    return list(DealStage.objects.filter(pipeline=pipeline, is_active=True).order_by("order"))


def _company_currency(company: Company) -> str:
    """The currency most of the company's deals use (USD when it has none)."""
    row = (
        Deal.objects.filter(company=company)
        .values("currency")
        .annotate(n=Count("id"))
        .order_by("-n", "currency")
        .first()
    )
    return row["currency"] if row else DEFAULT_CURRENCY


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def pipeline_summary(
    *, user: User, company: Company, pipeline: Pipeline | None = None
) -> PipelineSummary:
    """The open deals the user may see in ``pipeline`` (default: the company's), by stage.

    Every stage with deals is listed, and every active stage even with none. Weighted sums use
    each deal's own probability. Five small queries (the pipeline when not given, the
    company's currency, the membership, the sums, the stages), none per stage.
    """
    if pipeline is None:
        pipeline = pipeline_default(company=company)
    currency = _company_currency(company)
    if pipeline is None or pipeline.company_id != company.id:
        return PipelineSummary(None, currency, [], 0, ZERO, ZERO, {})
    weighted = ExpressionWrapper(
        F("value") * F("probability") / Value(100),
        output_field=DecimalField(max_digits=20, decimal_places=6),
    )
    sums = (
        deals_visible(user=user, company=company)
        .filter(pipeline=pipeline, status=DealStatus.OPEN)
        .values("stage_id", "currency")
        .annotate(count=Count("id"), total=Sum("value"), weighted=Sum(weighted))
        .order_by()
    )
    counts: dict[int, int] = {}
    sums_by_stage: dict[int, tuple[Decimal, Decimal]] = {}
    other: dict[str, Decimal] = {}
    for row in sums:
        stage_id = row["stage_id"]
        counts[stage_id] = counts.get(stage_id, 0) + row["count"]
        if row["currency"] == currency:
            sums_by_stage[stage_id] = (Decimal(row["total"]), Decimal(row["weighted"]))
        else:
            other[row["currency"]] = other.get(row["currency"], Decimal(0)) + row["total"]
    stages = [
        s
        for s in DealStage.objects.filter(pipeline=pipeline).order_by("order")
        if s.is_active or s.id in counts
    ]
    listed = [(s, counts.get(s.id, 0), *sums_by_stage.get(s.id, (ZERO, ZERO))) for s in stages]
    return PipelineSummary(
        pipeline=pipeline,
        currency=currency,
        stages=[StageTotal(s, n, _cents(t), _cents(w)) for s, n, t, w in listed],
        count=sum(n for _, n, _, _ in listed),
        total=_cents(sum((t for _, _, t, _ in listed), ZERO)),
        weighted=_cents(sum((w for _, _, _, w in listed), ZERO)),
        other_currencies={code: _cents(amount) for code, amount in sorted(other.items())},
    )


# -- reading what a member typed ---------------------------------------------------------------


def _fold(text: str) -> str:
    """Case- and accent-insensitive form, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text[:MATCH_TEXT_MAX])
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def _compact(text: str) -> str:
    """The folded form without spaces or punctuation ("Closed-Won" → "closedwon")."""
    return re.sub(r"[\W_]+", "", _fold(text))


def _unique(items: Iterable[T], key: Callable[[T], object]) -> list[T]:
    seen: set[object] = set()
    out = []
    for item in items:
        if key(item) not in seen:
            seen.add(key(item))
            out.append(item)
    return out


def _close(text: str, keyed: list[tuple[T, list[str]]], limit: int) -> Match[T]:
    """difflib's close matches, scored per item by its best key; a clear winner is found."""
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(text)
    scored: list[tuple[float, T]] = []
    for item, keys in keyed:
        best = 0.0
        for key in keys:
            matcher.set_seq1(key)
            # The cheap upper bounds first, as difflib.get_close_matches does.
            if matcher.real_quick_ratio() >= CLOSE_CUTOFF and matcher.quick_ratio() >= max(
                best, CLOSE_CUTOFF
            ):
                best = max(best, matcher.ratio())
        if best >= CLOSE_CUTOFF:
            scored.append((best, item))
    scored.sort(key=lambda pair: -pair[0])
    if len(scored) == 1 or (scored and scored[0][0] - scored[1][0] >= CLEAR_MARGIN):
        return Match(scored[0][1], [])
    return Match(None, [item for _, item in scored[:limit]])


def _match(
    items: list[T],
    text: str,
    *,
    keys: Callable[[T], tuple[list[str], list[str]]],
    identity: Callable[[T], object],
    limit: int = 5,
) -> Match[T]:
    """Match folded ``text`` against each item's primary then secondary keys (already folded).

    Steps, the first that finds anything wins: exact on a primary key, exact on a secondary
    key, prefix of a primary key, prefix of a secondary key, then close spellings (difflib,
    cutoff 0.6; not for e-mail addresses). One item found is ``found``; several are
    ``candidates``, except that a close spelling far nearer than the next one ("contcted":
    contacted, not converted) is found.
    """
    if not text:
        return Match(None, [])
    keyed = [(item, keys(item)) for item in items]
    steps: list[Callable[[str], bool]] = [text.__eq__, lambda k: k.startswith(text)]
    for test in steps:
        for tier in (0, 1):
            hits = _unique((item for item, ks in keyed if any(map(test, ks[tier]))), identity)
            if hits:
                return Match(hits[0], []) if len(hits) == 1 else Match(None, hits[:limit])
    if "@" in text:
        # An e-mail address is matched whole or by prefix, never by spelling: at one domain,
        # or a digit apart (user5@, user0@), two addresses look alike whoever they belong to.
        return Match(None, [])
    fuzzy = [(item, [k for k in p + s if "@" not in k]) for item, (p, s) in keyed]
    return _close(text, fuzzy, limit)


def stage_match(*, stages: list[DealStage], text: str) -> Match[DealStage]:
    """The stage named by ``text``: "closed won", "Closed-Won", "closedwon", "won", "negotation"."""

    def keys(stage: DealStage) -> tuple[list[str], list[str]]:
        words = [w for w in (_compact(w) for w in re.split(r"[\W_]+", stage.name)) if w]
        return [_compact(stage.name)], words

    return _match(stages, _compact(text), keys=keys, identity=lambda s: s.id)


def lead_status_match(*, text: str) -> Match[str]:
    """The lead status named by ``text`` (a value or label); "converted" matches nothing.

    "converted" takes part in the matching, so that "convert" or "convertd" is no match
    rather than a close spelling of "contacted": converting is its own action (it creates a
    deal), never a status one may set.
    """
    labels = dict(LeadStatus.choices)

    def keys(value: str) -> tuple[list[str], list[str]]:
        return [_compact(value), _compact(str(labels[value]))], []

    match = _match([s.value for s in LeadStatus], _compact(text), keys=keys, identity=str)
    settable = [c for c in match.candidates if c != LeadStatus.CONVERTED]
    if match.found == LeadStatus.CONVERTED:
        return Match(None, [])
    return Match(match.found, settable)


def _member_keys(user: User) -> tuple[list[str], list[str]]:
    email = _fold(user.email or "")
    full = _fold(f"{user.first_name} {user.last_name}")
    primary = [k for k in (full, _fold(user.username or ""), email) if k]
    secondary = [_fold(user.first_name), _fold(user.last_name), email.split("@", 1)[0]]
    return primary, [k for k in secondary if k]


def member_match(*, company: Company, text: str) -> Match[User]:
    """The active member of ``company`` named by ``text`` ("@ana", "Ana", "ana@acme.test")."""
    wanted = _fold(text).lstrip("@").strip()
    if not wanted:
        return Match(None, [])
    members = list(
        User.objects.filter(
            member_active_q("memberships__"), memberships__company=company, is_active=True
        ).order_by("first_name", "last_name", "id")
    )
    return _match(members, wanted, keys=_member_keys, identity=lambda u: u.pk)
