"""Writes on pipelines, deals and leads."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hub.domain.authentication.models import Company, User
from hub.domain.crm.models import Deal, DealStage, DealStatus, Lead, LeadStatus, Pipeline

DEFAULT_PIPELINE_NAME = "Sales Pipeline"
DEFAULT_STAGES: tuple[tuple[str, int], ...] = (
    ("Prospecting", 10),
    ("Qualification", 25),
    ("Proposal", 50),
    ("Negotiation", 75),
    ("Closed Won", 100),
    ("Closed Lost", 0),
)


@transaction.atomic
def pipeline_create_default(*, company: Company) -> Pipeline:
    """Give the company its default "Sales Pipeline" (idempotent: one default per company)."""
    existing = Pipeline.objects.filter(company=company, is_default=True).first()
    if existing is not None:
        return existing
    pipeline = Pipeline.objects.create(
        company=company, name=DEFAULT_PIPELINE_NAME, is_default=True, created_by=company.created_by
    )
    DealStage.objects.bulk_create(
        DealStage(pipeline=pipeline, name=name, order=order, probability=probability)
        for order, (name, probability) in enumerate(DEFAULT_STAGES, start=1)
    )
    return pipeline


def _check_stage(*, company: Company, pipeline: Pipeline, stage: DealStage) -> None:
    if pipeline.company_id != company.id:
        raise ValidationError({"pipeline": "The pipeline belongs to another company."})
    if stage.pipeline_id != pipeline.id:
        raise ValidationError({"stage": "The stage belongs to another pipeline."})


@transaction.atomic
def deal_create(
    *,
    company: Company,
    created_by: User,
    title: str,
    value: Decimal,
    contact_name: str,
    contact_email: str,
    company_name: str,
    pipeline: Pipeline | None = None,
    stage: DealStage | None = None,
    **fields,
) -> Deal:
    pipeline = pipeline or Pipeline.objects.get(company=company, is_default=True)
    stage = stage or pipeline.stages.order_by("order").first()
    if stage is None:
        raise ValidationError({"stage": f"The pipeline {pipeline} has no stages."})
    _check_stage(company=company, pipeline=pipeline, stage=stage)
    deal = Deal(
        company=company,
        created_by=created_by,
        pipeline=pipeline,
        stage=stage,
        probability=stage.probability,
        title=title,
        value=value,
        contact_name=contact_name,
        contact_email=contact_email,
        company_name=company_name,
        **fields,
    )
    deal.full_clean()
    deal.save()
    return deal


@transaction.atomic
def deal_move(*, deal: Deal, stage: DealStage, by: User | None = None) -> Deal:
    """Move a deal to another stage of its pipeline; its probability follows the stage."""
    _check_stage(company=deal.company, pipeline=deal.pipeline, stage=stage)
    deal.stage = stage
    deal.probability = stage.probability
    deal.save(update_fields=["stage", "probability", "updated_at"])
    return deal


@transaction.atomic
def deal_mark_won(*, deal: Deal, by: User | None = None, close_date: date | None = None) -> Deal:
    now = timezone.now()
    deal.status = DealStatus.WON
    deal.won_at = now
    deal.lost_at = None
    deal.lost_reason = None
    deal.actual_close_date = close_date or now.date()
    won_stage = deal.pipeline.stages.filter(probability=100).order_by("order").first()
    if won_stage is not None:
        deal.stage = won_stage
    deal.probability = 100
    deal.save()
    return deal


@transaction.atomic
def deal_mark_lost(*, deal: Deal, reason: str = "", by: User | None = None, close_date: date | None = None) -> Deal:
    now = timezone.now()
    deal.status = DealStatus.LOST
    deal.lost_at = now
    deal.won_at = None
    deal.lost_reason = reason or None
    deal.actual_close_date = close_date or now.date()
    lost_stage = deal.pipeline.stages.filter(probability=0).order_by("-order").first()
    if lost_stage is not None:
        deal.stage = lost_stage
    deal.probability = 0
    deal.save()
    return deal


@transaction.atomic
def deal_assign(*, deal: Deal, assignee: User | None, by: User | None = None) -> Deal:
    deal.assigned_to = assignee
    deal.save(update_fields=["assigned_to", "updated_at"])
    return deal


@transaction.atomic
def lead_create(*, company: Company, created_by: User, first_name: str, last_name: str, email: str, lead_source: str, **fields) -> Lead:
    lead = Lead(
        company=company,
        created_by=created_by,
        first_name=first_name,
        last_name=last_name,
        email=email,
        lead_source=lead_source,
        **fields,
    )
    lead.full_clean()
    lead.save()
    return lead


@transaction.atomic
def lead_set_status(*, lead: Lead, status: str, by: User | None = None) -> Lead:
    if status == LeadStatus.CONVERTED:
        raise ValidationError({"status": "Convert a lead with lead_convert, which creates its deal."})
    lead.status = status
    lead.full_clean()
    lead.save(update_fields=["status", "updated_at"])
    return lead


@transaction.atomic
def lead_assign(*, lead: Lead, assignee: User | None, by: User | None = None) -> Lead:
    lead.assigned_to = assignee
    lead.save(update_fields=["assigned_to", "updated_at"])
    return lead


@transaction.atomic
def lead_convert(*, lead: Lead, by: User, title: str | None = None, value: Decimal | None = None) -> Deal:
    """Turn a lead into a deal in the default pipeline's first stage."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if lead.status == LeadStatus.CONVERTED:
        raise ValidationError({"status": "This lead has already been converted."})
    full_name = f"{lead.first_name} {lead.last_name}".strip()
    deal = deal_create(
        company=lead.company,
        created_by=by,
        title=title or f"{lead.company_name or full_name} deal",
        value=value if value is not None else (lead.estimated_value or Decimal("0")),
        contact_name=full_name,
        contact_email=lead.email,
        contact_phone=lead.phone,
        company_name=lead.company_name or full_name,
        assigned_to=lead.assigned_to,
        lead=lead,
    )
    lead.status = LeadStatus.CONVERTED
    lead.converted_to_deal = deal
    lead.converted_at = timezone.now()
    lead.save(update_fields=["status", "converted_to_deal", "converted_at", "updated_at"])
    return deal
