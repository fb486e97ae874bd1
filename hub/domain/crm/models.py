"""Leads, pipelines, stages, deals and activities (``crm_*``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from hub.domain.common import choices_check, range_check

User = settings.AUTH_USER_MODEL
Company = "authentication.Company"


class LeadSource(models.TextChoices):
    WEBSITE = "website", "Website"
    REFERRAL = "referral", "Referral"
    COLD_CALL = "cold_call", "Cold call"
    SOCIAL_MEDIA = "social_media", "Social media"
    EVENT = "event", "Event"
    OTHER = "other", "Other"


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    QUALIFIED = "qualified", "Qualified"
    UNQUALIFIED = "unqualified", "Unqualified"
    CONVERTED = "converted", "Converted"


class DealStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Priority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class ActivityType(models.TextChoices):
    NOTE = "note", "Note"
    CALL = "call", "Call"
    EMAIL = "email", "E-mail"
    MEETING = "meeting", "Meeting"
    TASK = "task", "Task"


class Lead(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="leads")
    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    assigned_to = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_leads"
    )
    first_name = models.CharField(max_length=120)
    last_name = models.CharField(max_length=120)
    email = models.EmailField()
    phone = models.CharField(max_length=32, null=True, blank=True)
    company_name = models.CharField(max_length=255, null=True, blank=True)
    job_title = models.CharField(max_length=120, null=True, blank=True)
    lead_source = models.CharField(max_length=32, choices=LeadSource.choices)
    status = models.CharField(max_length=32, choices=LeadStatus.choices, default=LeadStatus.NEW)
    estimated_value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    notes = models.TextField(null=True, blank=True)
    converted_to_deal = models.ForeignKey(
        "crm.Deal", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    converted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "crm_lead"
        indexes = [
            models.Index(fields=["company", "status"], name="crm_lead_company_status_idx"),
            models.Index(fields=["company", "email"], name="crm_lead_company_email_idx"),
            models.Index(fields=["created_at"], name="crm_lead_created_at_idx"),
        ]
        constraints = [
            choices_check("crm_lead", "lead_source", LeadSource),
            choices_check("crm_lead", "status", LeadStatus),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Pipeline(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="pipelines")
    name = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True)
    is_default = models.BooleanField(default=False)
    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "crm_pipeline"
        indexes = [
            models.Index(fields=["company", "is_active"], name="crm_pipeline_co_active_idx"),
            models.Index(fields=["company", "is_default"], name="crm_pipeline_co_default_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "name"], name="crm_pipeline_company_name_uniq"
            ),
            models.UniqueConstraint(
                fields=["company"],
                condition=models.Q(is_default=True),
                name="crm_pipeline_one_default_per_company",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DealStage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=120)
    order = models.IntegerField()
    probability = models.IntegerField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "crm_dealstage"
        ordering = ["pipeline", "order"]
        indexes = [
            models.Index(fields=["pipeline", "is_active"], name="crm_dealstage_pl_active_idx"),
            models.Index(fields=["pipeline", "order"], name="crm_dealstage_pl_order_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline", "name"], name="crm_dealstage_pipeline_name_uniq"
            ),
            models.UniqueConstraint(
                fields=["pipeline", "order"], name="crm_dealstage_pipeline_order_uniq"
            ),
            range_check("crm_dealstage", "probability", 0, 100),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.probability}%)"


class Deal(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="deals")
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="deals")
    stage = models.ForeignKey(DealStage, on_delete=models.CASCADE, related_name="deals")
    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    assigned_to = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_deals"
    )
    lead = models.ForeignKey(
        Lead, on_delete=models.SET_NULL, null=True, blank=True, related_name="deals"
    )
    title = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True)
    value = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=8, default="USD")
    expected_close_date = models.DateField(null=True, blank=True)
    actual_close_date = models.DateField(null=True, blank=True)
    contact_name = models.CharField(max_length=255)
    contact_email = models.EmailField()
    contact_phone = models.CharField(max_length=32, null=True, blank=True)
    company_name = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=DealStatus.choices, default=DealStatus.OPEN)
    lost_reason = models.TextField(null=True, blank=True)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.MEDIUM)
    probability = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    won_at = models.DateTimeField(null=True, blank=True)
    lost_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "crm_deal"
        indexes = [
            models.Index(fields=["company", "status"], name="crm_deal_company_status_idx"),
            models.Index(fields=["company", "pipeline", "stage"], name="crm_deal_co_pl_stage_idx"),
            models.Index(fields=["company", "expected_close_date"], name="crm_deal_co_close_idx"),
            models.Index(fields=["created_at"], name="crm_deal_created_at_idx"),
        ]
        constraints = [
            choices_check("crm_deal", "status", DealStatus),
            choices_check("crm_deal", "priority", Priority),
            range_check("crm_deal", "probability", 0, 100),
        ]

    def __str__(self) -> str:
        return self.title


class Activity(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="activities")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, null=True, blank=True, related_name="activities"
    )
    deal = models.ForeignKey(
        Deal, on_delete=models.CASCADE, null=True, blank=True, related_name="activities"
    )
    activity_type = models.CharField(max_length=32, choices=ActivityType.choices)
    subject = models.CharField(max_length=255)
    description = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    completed = models.BooleanField(default=False)

    class Meta:
        db_table = "crm_activity"
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["company", "lead"], name="crm_activity_co_lead_idx"),
            models.Index(fields=["company", "deal"], name="crm_activity_co_deal_idx"),
            models.Index(fields=["created_at"], name="crm_activity_created_at_idx"),
        ]
        constraints = [choices_check("crm_activity", "activity_type", ActivityType)]

    def __str__(self) -> str:
        return self.subject
