"""The pipeline board, /console/deals/: a pipeline's open deals as cards in columns per stage.

The board shows the deals the ``deal.*`` events reach the user with (docs/PROTOCOL.md, "Who
sees what"), so the page and its live feed agree: pipeline.js moves, adds and removes cards as
the events arrive, whoever changed the deal. A manager's drag posts to :func:`move`, which
checks the member as Slack's ``/deal move`` does and calls the same service, ``deal_move``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from hub.console import selectors
from hub.console.companies import COMPANY_PARAM, CompanyScope, company_scope
from hub.console.views import staff_user
from hub.domain.authentication.models import User
from hub.domain.crm import selectors as crm
from hub.domain.crm.access import CrmAccessDenied, crm_manage_check
from hub.domain.crm.models import Deal, DealStatus, Pipeline
from hub.domain.crm.services import deal_move
from hub.domain.events.payloads import deal_payload

PIPELINE_PARAM = "pipeline"


@dataclass(frozen=True)
class Card:
    deal: Deal
    value: str  # "12,000.00 USD"


@dataclass(frozen=True)
class Column:
    column: crm.BoardColumn
    cards: list[Card]
    total: str  # "12,000.00 USD · 800.00 EUR", or "—" when empty


def money(amount: Decimal, currency: str) -> str:
    """``12,000.00 USD``: pipeline.js writes the same text for totals it recomputes."""
    return f"{amount:,.2f} {currency}"


def totals_text(totals: list[tuple[str, Decimal]]) -> str:
    return " · ".join(money(amount, currency) for currency, amount in totals) or "—"


@staff_member_required
def page(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    viewer = selectors.console_viewer(user=user)
    cursor = selectors.console_cursor()
    scope = company_scope(request, viewer=viewer)
    every = crm.board_pipelines(company_ids=[c.id for c in scope.companies])
    pipelines = [p for p in every if scope.shows(p.company_id)]
    posted = request.GET.get(PIPELINE_PARAM, "").strip()
    pipeline = next((p for p in pipelines if str(p.id) == posted), None)
    if posted and pipeline is None and any(str(p.id) == posted for p in every):
        # The company filter changed under a pipeline of another company: its default board.
        return redirect(_board_url(scope, None))
    refused = posted if posted and pipeline is None else None
    pipeline = pipeline or (pipelines[0] if pipelines else None)
    context = {
        "page": "deals",
        "cursor": cursor,
        "scope": scope,
        "pipelines": pipelines,
        "pipeline_refused": refused,
        "board": None,
    }
    if pipeline is not None:
        context.update(_board_context(request, user, pipeline, every_company=viewer.every_company))
    return render(request, "hub/console/deals.html", context)


def _board_context(
    request: HttpRequest, user: User, pipeline: Pipeline, *, every_company: bool
) -> dict[str, object]:
    board = crm.pipeline_board(user=user, pipeline=pipeline, every_company=every_company)
    refusal = _manage_refusal(user, pipeline)
    columns = [
        Column(
            column=c,
            cards=[Card(deal=d, value=money(d.value, d.currency)) for d in c.deals],
            total=totals_text(c.totals),
        )
        for c in board.columns
    ]
    change_url = reverse("admin:crm_deal_change", args=[0]).replace("/0/", "/{id}/")
    closed_url = reverse("admin:crm_deal_changelist")
    config = {
        "pipeline_id": pipeline.id,
        "stages": [
            {
                "id": c.stage.id,
                "name": c.stage.name,
                "closing": c.closing,
                "active": c.stage.is_active,
            }
            for c in board.columns
        ],
        "can_move": refusal is None,
        # A member who sees only their own deals: cards assigned to someone else leave.
        "only_user_id": None if board.sees_all else user.id,
        "move_url": reverse("console:deal-move", args=[0]).replace("/0/", "/{id}/"),
        "change_url": change_url,
        "csrf_token": get_token(request),
    }
    return {
        "board": board,
        "columns": columns,
        "can_move": refusal is None,
        "move_refusal": refusal,
        "won_url": f"{closed_url}?status__exact=won&pipeline__id__exact={pipeline.id}",
        "lost_url": f"{closed_url}?status__exact=lost&pipeline__id__exact={pipeline.id}",
        "people": crm.board_people(company=pipeline.company),
        "board_config": config,
    }


def _manage_refusal(user: User, pipeline: Pipeline) -> str | None:
    """Why the user may not move this pipeline's deals, or None when they may."""
    try:
        crm_manage_check(user=user, company=pipeline.company)
    except CrmAccessDenied as exc:
        return str(exc)
    return None


def _board_url(scope: CompanyScope, pipeline: Pipeline | None) -> str:
    query = {}
    if scope.chosen is not None:
        query[COMPANY_PARAM] = scope.chosen.id
    if pipeline is not None:
        query[PIPELINE_PARAM] = pipeline.id
    url = reverse("console:deals")
    return f"{url}?{urlencode(query)}" if query else url


@staff_member_required
@require_POST
def move(request: HttpRequest, deal_id: int) -> JsonResponse:
    """Move a deal to another stage (``stage``: its id); answer JSON, the deal or the reason."""
    user = staff_user(request)
    stage_id = _posted_id(request.POST.get("stage", ""))
    if stage_id is None:
        return _refused(400, "Say which stage to move the deal to (the stage's id).")
    viewer = selectors.console_viewer(user=user)
    deal = crm.board_deal_get(user=user, deal_id=deal_id, every_company=viewer.every_company)
    if deal is None:
        return _refused(404, f"There is no deal #{deal_id} that you can see.")
    try:
        crm_manage_check(user=user, company=deal.company)
    except CrmAccessDenied as exc:
        return _refused(403, str(exc))
    if deal.status != DealStatus.OPEN:
        return _refused(
            409, f"“{deal.title}” is {deal.get_status_display().lower()}: only open deals move."
        )
    stage = crm.board_stage_get(pipeline=deal.pipeline, stage_id=stage_id)
    if stage is None:
        return _refused(400, f"The pipeline {deal.pipeline.name} has no active stage #{stage_id}.")
    if stage.id != deal.stage_id and stage.id in crm.board_closing_stage_ids(
        pipeline=deal.pipeline
    ):
        return _refused(
            400,
            f"{stage.name} is where closed deals go: mark the deal won or lost instead "
            "(in the CRM, the admin or Slack's /deal won and /deal lost).",
        )
    if stage.id != deal.stage_id:
        try:
            deal = deal_move(deal=deal, stage=stage, by=user)
        except ValidationError as exc:
            return _refused(400, " ".join(exc.messages))
    return JsonResponse({"deal": deal_payload(deal), "stage": stage.name})


def _posted_id(text: str) -> int | None:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    return int(text)


def _refused(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)
