"""Writes on pipelines, deals and leads."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hub.domain.authentication.checks import company_member_check, company_rows_check
from hub.domain.authentication.models import Company, User
from hub.domain.crm.models import (
    Activity,
    ActivityType,
    Deal,
    DealStage,
    DealStatus,
    Lead,
    LeadStatus,
    Pipeline,
)
from hub.domain.events.models import Audience
from hub.domain.events.payloads import deal_payload, lead_payload
from hub.domain.events.services import event_record

# The columns whose change is pushed to browsers (the PostgreSQL triggers watch the same ones).
DEAL_WATCHED = ("stage_id", "status", "assigned_to_id", "title", "value", "currency")
LEAD_WATCHED = ("status", "assigned_to_id")


def _changed(before: dict, obj, fields: tuple[str, ...]) -> list[str]:
    return [name for name in fields if before.get(name) != getattr(obj, name)]


def _snapshot(obj, fields: tuple[str, ...]) -> dict:
    return {name: getattr(obj, name) for name in fields}


def _record_deal(deal: Deal, type_: str, changed: list[str] | None = None) -> None:
    payload = deal_payload(deal)
    if changed is not None:
        if not changed:
            return
        payload["changed"] = changed
    event_record(
        company_id=deal.company_id,
        audience=Audience.DEAL_MANAGERS,
        user_id=deal.assigned_to_id,
        topic="deals",
        type=type_,
        payload=payload,
    )


def _record_lead(lead: Lead, type_: str, changed: list[str] | None = None) -> None:
    payload = lead_payload(lead)
    if changed is not None:
        if not changed:
            return
        payload["changed"] = changed
    event_record(
        company_id=lead.company_id,
        audience=Audience.DEAL_MANAGERS,
        user_id=lead.assigned_to_id,
        topic="leads",
        type=type_,
        payload=payload,
    )


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
    stage = stage or pipeline.stages.filter(is_active=True).order_by("order").first()
    if stage is None:
        raise ValidationError({"stage": f"The pipeline {pipeline} has no active stages."})
    _check_stage(company=company, pipeline=pipeline, stage=stage)
    company_rows_check(company=company, lead=fields.get("lead"))
    company_member_check(company=company, user=fields.get("assigned_to"), field="assigned_to")
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
    _record_deal(deal, "deal.created")
    return deal


@transaction.atomic
def deal_move(*, deal: Deal, stage: DealStage, by: User | None = None) -> Deal:
    """Move an open deal to another stage of its pipeline; its probability follows the stage.

    The deal's row is locked and its status read again first: a deal won or lost since the
    caller read it (from Slack, the CRM, another tab) is refused, never put back in an open
    stage.
    """
    _check_stage(company=deal.company, pipeline=deal.pipeline, stage=stage)
    status = Deal.objects.select_for_update().values_list("status", flat=True).get(pk=deal.pk)
    if status != DealStatus.OPEN:
        deal.status = status
        raise ValidationError(
            f"“{deal.title}” is {deal.get_status_display().lower()}: only open deals move."
        )
    before = _snapshot(deal, DEAL_WATCHED)
    deal.stage = stage
    deal.probability = stage.probability
    deal.save(update_fields=["stage", "probability", "updated_at"])
    _record_deal(deal, "deal.updated", _changed(before, deal, DEAL_WATCHED))
    return deal


@transaction.atomic
def deal_mark_won(*, deal: Deal, by: User | None = None, close_date: date | None = None) -> Deal:
    before = _snapshot(deal, DEAL_WATCHED)
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
    _record_deal(deal, "deal.updated", _changed(before, deal, DEAL_WATCHED))
    return deal


@transaction.atomic
def deal_mark_lost(
    *, deal: Deal, reason: str = "", by: User | None = None, close_date: date | None = None
) -> Deal:
    before = _snapshot(deal, DEAL_WATCHED)
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
    _record_deal(deal, "deal.updated", _changed(before, deal, DEAL_WATCHED))
    return deal


@transaction.atomic
def deal_assign(*, deal: Deal, assignee: User | None, by: User | None = None) -> Deal:
    company_member_check(company=deal.company, user=assignee, field="assigned_to")
    before = _snapshot(deal, DEAL_WATCHED)
    deal.assigned_to = assignee
    deal.save(update_fields=["assigned_to", "updated_at"])
    _record_deal(deal, "deal.updated", _changed(before, deal, DEAL_WATCHED))
    return deal


@transaction.atomic
def lead_create(
    *,
    company: Company,
    created_by: User,
    first_name: str,
    last_name: str,
    email: str,
    lead_source: str,
    **fields,
) -> Lead:
    company_member_check(company=company, user=fields.get("assigned_to"), field="assigned_to")
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
    _record_lead(lead, "lead.created")
    return lead


@transaction.atomic
def lead_set_status(*, lead: Lead, status: str, by: User | None = None) -> Lead:
    if status == LeadStatus.CONVERTED:
        raise ValidationError(
            {"status": "Convert a lead with lead_convert, which creates its deal."}
        )
    before = _snapshot(lead, LEAD_WATCHED)
    lead.status = status
    lead.full_clean()
    lead.save(update_fields=["status", "updated_at"])
    _record_lead(lead, "lead.updated", _changed(before, lead, LEAD_WATCHED))
    return lead


@transaction.atomic
def lead_assign(*, lead: Lead, assignee: User | None, by: User | None = None) -> Lead:
    company_member_check(company=lead.company, user=assignee, field="assigned_to")
    before = _snapshot(lead, LEAD_WATCHED)
    lead.assigned_to = assignee
    lead.save(update_fields=["assigned_to", "updated_at"])
    _record_lead(lead, "lead.updated", _changed(before, lead, LEAD_WATCHED))
    return lead


@transaction.atomic
def lead_convert(
    *, lead: Lead, by: User, title: str | None = None, value: Decimal | None = None
) -> Deal:
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
    before = _snapshot(lead, LEAD_WATCHED)
    lead.status = LeadStatus.CONVERTED
    lead.converted_to_deal = deal
    lead.converted_at = timezone.now()
    lead.save(update_fields=["status", "converted_to_deal", "converted_at", "updated_at"])
    _record_lead(lead, "lead.updated", _changed(before, lead, LEAD_WATCHED))
    return deal


NOTE_MAX_CHARS = 10_000
NOTE_SUBJECT_CHARS = 80


def _note_add(*, company: Company, by: User, text: str, **record) -> Activity:
    # PostgreSQL text cannot hold NUL; a pasted one is dropped rather than failing the save.
    text = (text or "").replace("\x00", "").strip()
    if not text:
        raise ValidationError({"text": "A note needs some text."})
    if len(text) > NOTE_MAX_CHARS:
        raise ValidationError(
            {"text": f"A note may be at most {NOTE_MAX_CHARS:,} characters ({len(text):,} given)."}
        )
    company_member_check(company=company, user=by, field="by")
    note = Activity(
        company=company,
        user=by,
        activity_type=ActivityType.NOTE,
        subject=text.splitlines()[0].strip()[:NOTE_SUBJECT_CHARS],
        description=text,
        **record,
    )
    # The rows it points at are in hand (and checked above): no look-up query for each.
    note.full_clean(exclude=["company", "user", "deal", "lead"])
    note.save()
    return note


@transaction.atomic
def deal_add_note(*, deal: Deal, by: User, text: str) -> Activity:
    """Add a note to a deal: the first line (cut to 80 characters) is its subject."""
    return _note_add(company=deal.company, by=by, text=text, deal=deal)


@transaction.atomic
def lead_add_note(*, lead: Lead, by: User, text: str) -> Activity:
    """Add a note to a lead: the first line (cut to 80 characters) is its subject."""
    return _note_add(company=lead.company, by=by, text=text, lead=lead)
