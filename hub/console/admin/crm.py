"""Console pages for leads, pipelines, stages, deals and activities."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count

from hub.console.admin.base import (
    ScopedModelAdmin,
    ScopedTabularInline,
    adopt,
    save_with_services,
)
from hub.console.admin.listing import clip_column, person_column, time_column
from hub.domain.crm.models import Activity, Deal, DealStage, DealStatus, Lead, LeadStatus, Pipeline
from hub.domain.crm.services import (
    deal_assign,
    deal_create,
    deal_mark_lost,
    deal_mark_won,
    deal_move,
    lead_assign,
    lead_convert,
    lead_create,
    lead_set_status,
)


class LeadForm(forms.ModelForm):
    class Meta:
        model = Lead
        fields = "__all__"  # noqa: DJ007 - the admin decides which fields it shows

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        stored = self.instance.status if self.instance.pk else None
        if status == LeadStatus.CONVERTED and stored != LeadStatus.CONVERTED:
            raise ValidationError(
                "Convert a lead with the “Convert to deal” action, which creates its deal."
            )
        return status


@admin.register(Lead)
class LeadAdmin(ScopedModelAdmin):
    form = LeadForm
    # What fits 1280 px; the lead's own company name and estimated value are on its page.
    list_display = (
        "__str__",
        clip_column("email"),
        clip_column("company"),
        "status",
        "lead_source",
        person_column("assigned_to"),
        time_column("created_at", "created"),
    )
    list_filter = ("status", "lead_source", "company", "assigned_to")
    search_fields = ("first_name", "last_name", "email", "company_name", "phone")
    list_select_related = ("company", "assigned_to")
    autocomplete_fields = ("created_by", "assigned_to")
    readonly_fields = ("converted_to_deal", "converted_at")
    date_hierarchy = "created_at"
    actions = ("convert_to_deal",)

    def write(self, request, obj, form, change) -> None:
        if not change:
            fields = {
                name: getattr(obj, name)
                for name in form.cleaned_data
                if name
                not in ("company", "created_by", "first_name", "last_name", "email", "lead_source")
            }
            adopt(
                obj,
                lead_create(
                    company=obj.company,
                    created_by=obj.created_by,
                    first_name=obj.first_name,
                    last_name=obj.last_name,
                    email=obj.email,
                    lead_source=obj.lead_source,
                    **fields,
                ),
            )
            return
        save_with_services(
            obj,
            form,
            {
                "status": lambda status: lead_set_status(lead=obj, status=status, by=request.user),
                "assigned_to": lambda user: lead_assign(lead=obj, assignee=user, by=request.user),
            },
        )

    @admin.action(description="Convert selected leads to deals", permissions=("change",))
    def convert_to_deal(self, request, queryset):
        converted = 0
        for lead in queryset.exclude(status=LeadStatus.CONVERTED):
            lead_convert(lead=lead, by=request.user)
            converted += 1
        self.message_user(request, f"{converted} lead(s) converted to deals.", messages.SUCCESS)


class DealStageInline(ScopedTabularInline):
    model = DealStage
    fields = ("name", "order", "probability", "is_active")
    ordering = ("order",)


@admin.register(Pipeline)
class PipelineAdmin(ScopedModelAdmin):
    list_display = (
        "name",
        "company",
        "is_default",
        "is_active",
        "stage_count",
        "created_by",
        "created_at",
    )
    list_filter = ("is_default", "is_active", "company")
    ordering = ("name",)
    search_fields = ("name", "description", "company__company_name")
    list_select_related = ("company", "created_by")
    autocomplete_fields = ("created_by",)
    date_hierarchy = "created_at"
    inlines = (DealStageInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_stage_count=Count("stages"))

    @admin.display(description="stages", ordering="_stage_count")
    def stage_count(self, pipeline: Pipeline) -> int:
        return pipeline._stage_count  # type: ignore[attr-defined]


@admin.register(DealStage)
class DealStageAdmin(ScopedModelAdmin):
    company_path = "pipeline__company"
    list_display = ("name", "pipeline", "company", "order", "probability", "is_active")
    list_filter = ("is_active", "pipeline__company", "pipeline")
    search_fields = ("name", "pipeline__name")
    list_select_related = ("pipeline__company",)
    ordering = ("pipeline", "order")

    @admin.display(ordering="pipeline__company__company_name")
    def company(self, stage: DealStage):
        return stage.pipeline.company


class DealForm(forms.ModelForm):
    class Meta:
        model = Deal
        fields = "__all__"  # noqa: DJ007 - the admin decides which fields it shows

    def clean(self):
        cleaned = super().clean()
        company, pipeline, stage = (
            cleaned.get("company"),
            cleaned.get("pipeline"),
            cleaned.get("stage"),
        )
        if company and pipeline and pipeline.company_id != company.pk:
            self.add_error("pipeline", "This pipeline belongs to another company.")
        elif pipeline and stage and stage.pipeline_id != pipeline.pk:
            self.add_error("stage", "This stage belongs to another pipeline.")
        return cleaned


@admin.register(Deal)
class DealAdmin(ScopedModelAdmin):
    form = DealForm
    # What fits 1280 px; probability, priority and the dates are on the deal's page.
    title_column = clip_column("title", wide=True)
    list_display = (
        title_column,
        clip_column("company"),
        clip_column("stage__name", "stage", ordering="stage__order"),
        "status",
        "amount",
        person_column("assigned_to"),
    )
    list_display_links = (title_column,)
    list_filter = ("status", "priority", "company", "pipeline", "stage", "assigned_to")
    search_fields = ("title", "contact_name", "contact_email", "company_name", "description")
    list_select_related = ("company", "stage", "assigned_to")
    autocomplete_fields = ("created_by", "assigned_to", "lead")
    # The stage decides the probability; the status decides won_at and lost_at.
    readonly_fields = ("probability", "won_at", "lost_at")
    date_hierarchy = "created_at"
    actions = ("mark_won", "mark_lost")

    @admin.display(description="value", ordering="value")
    def amount(self, deal: Deal) -> str:
        whole = deal.value == deal.value.to_integral_value()
        return (
            f"{deal.value:,.0f} {deal.currency}" if whole else f"{deal.value:,.2f} {deal.currency}"
        )

    def write(self, request, obj, form, change) -> None:
        if not change:
            status = obj.status
            fields = {
                name: getattr(obj, name)
                for name in form.cleaned_data
                if name
                not in (
                    "company",
                    "created_by",
                    "title",
                    "value",
                    "contact_name",
                    "contact_email",
                    "company_name",
                    "pipeline",
                    "stage",
                    "status",
                )
            }
            deal = deal_create(
                company=obj.company,
                created_by=obj.created_by,
                title=obj.title,
                value=obj.value,
                contact_name=obj.contact_name,
                contact_email=obj.contact_email,
                company_name=obj.company_name,
                pipeline=obj.pipeline,
                stage=obj.stage,
                **fields,
            )
            adopt(obj, deal)
            if status != DealStatus.OPEN:
                self._set_status(request, obj, status)
            return
        save_with_services(
            obj,
            form,
            {
                "stage": lambda stage: deal_move(deal=obj, stage=stage, by=request.user),
                "assigned_to": lambda user: deal_assign(deal=obj, assignee=user, by=request.user),
                "status": lambda status: self._set_status(request, obj, status),
            },
        )

    def _set_status(self, request, deal: Deal, status: str) -> None:
        if status == DealStatus.WON:
            deal_mark_won(deal=deal, by=request.user, close_date=deal.actual_close_date)
        elif status == DealStatus.LOST:
            deal_mark_lost(deal=deal, reason=deal.lost_reason or "", by=request.user)
        else:
            # Reopening has no service of its own: clear the outcome and keep the stage.
            deal.status = DealStatus.OPEN
            deal.won_at = deal.lost_at = None
            deal.save(update_fields=["status", "won_at", "lost_at", "updated_at"])

    @admin.action(description="Mark selected deals won", permissions=("change",))
    def mark_won(self, request, queryset):
        for deal in queryset.select_related("pipeline"):
            deal_mark_won(deal=deal, by=request.user)
        self.message_user(request, "Deals marked won.", messages.SUCCESS)

    @admin.action(description="Mark selected deals lost", permissions=("change",))
    def mark_lost(self, request, queryset):
        for deal in queryset.select_related("pipeline"):
            deal_mark_lost(deal=deal, by=request.user)
        self.message_user(request, "Deals marked lost.", messages.SUCCESS)


@admin.register(Activity)
class ActivityAdmin(ScopedModelAdmin):
    list_display = (
        "subject",
        "activity_type",
        "company",
        "user",
        "lead",
        "deal",
        "scheduled_at",
        "completed",
        "created_at",
    )
    list_filter = ("activity_type", "completed", "company")
    search_fields = ("subject", "description")
    list_select_related = ("company", "user", "lead", "deal")
    autocomplete_fields = ("user", "lead", "deal")
    date_hierarchy = "created_at"
    current_user_fields = ("user",)
