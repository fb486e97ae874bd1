"""E-mail accounts, threads, messages, attachments, templates, rules, sync logs and tracking.

The "Phase 6.1" design is canonical (SCHEMA.md D3), with ``in_reply_to``, ``references``,
``folder``, ``uid`` and the ``emails_emailtracking`` table kept from Phase 6.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from hub.domain.common import choices_check

User = settings.AUTH_USER_MODEL
Company = "authentication.Company"


class Provider(models.TextChoices):
    GMAIL = "gmail", "Gmail"
    OUTLOOK = "outlook", "Outlook"
    SMTP = "smtp", "SMTP"
    IMAP = "imap", "IMAP"


class ThreadCategory(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SOCIAL = "social", "Social"
    PROMOTIONS = "promotions", "Promotions"
    UPDATES = "updates", "Updates"
    LEAD = "lead", "Lead"
    DEAL = "deal", "Deal"
    CUSTOMER = "customer", "Customer"
    COMPLAINT = "complaint", "Complaint"
    OTHER = "other", "Other"


class Sentiment(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEUTRAL = "neutral", "Neutral"
    NEGATIVE = "negative", "Negative"


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class EmailStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    BOUNCED = "bounced", "Bounced"


class TemplateCategory(models.TextChoices):
    LEAD = "lead", "Lead"
    DEAL = "deal", "Deal"
    CUSTOMER = "customer", "Customer"
    GENERAL = "general", "General"


class RuleTrigger(models.TextChoices):
    EMAIL_RECEIVED = "email_received", "E-mail received"
    EMAIL_SENT = "email_sent", "E-mail sent"
    LEAD_CREATED = "lead_created", "Lead created"
    DEAL_CREATED = "deal_created", "Deal created"


class SyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class TrackingEvent(models.TextChoices):
    OPEN = "open", "Open"
    CLICK = "click", "Click"


class EmailAccount(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="email_accounts")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="email_accounts")
    email = models.EmailField()
    provider = models.CharField(max_length=32, choices=Provider.choices)
    smtp_host = models.CharField(max_length=255, null=True, blank=True)
    smtp_port = models.IntegerField(null=True, blank=True)
    imap_host = models.CharField(max_length=255, null=True, blank=True)
    imap_port = models.IntegerField(null=True, blank=True)
    username = models.CharField(max_length=255)
    # Fernet tokens (EMAIL_ENCRYPTION_KEY); read and written only through hub.domain.emails.crypto.
    password = models.CharField(max_length=512)
    oauth_token = models.TextField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    sync_enabled = models.BooleanField(default=True)
    last_sync = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "emails_emailaccount"
        indexes = [
            models.Index(fields=["company", "email"], name="emails_acct_co_email_idx"),
            models.Index(fields=["user", "is_default"], name="emails_acct_user_default_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "email"], name="emails_emailaccount_company_email_uniq"
            ),
            choices_check("emails_emailaccount", "provider", Provider),
        ]

    def __str__(self) -> str:
        return self.email


class EmailThread(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="email_threads")
    email_account = models.ForeignKey(
        EmailAccount, on_delete=models.CASCADE, related_name="threads"
    )
    subject = models.CharField(max_length=500)
    participants = models.JSONField(default=list, blank=True)
    lead = models.ForeignKey(
        "crm.Lead", on_delete=models.SET_NULL, null=True, blank=True, related_name="email_threads"
    )
    deal = models.ForeignKey(
        "crm.Deal", on_delete=models.SET_NULL, null=True, blank=True, related_name="email_threads"
    )
    customer = models.ForeignKey(
        "authentication.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="email_threads",
    )
    last_message_at = models.DateTimeField()
    message_count = models.IntegerField(default=0)
    is_read = models.BooleanField(default=False)
    is_starred = models.BooleanField(default=False)
    category = models.CharField(
        max_length=32, choices=ThreadCategory.choices, default=ThreadCategory.PRIMARY
    )
    sentiment = models.CharField(max_length=16, choices=Sentiment.choices, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "emails_emailthread"
        indexes = [
            models.Index(fields=["company", "last_message_at"], name="emails_thread_co_last_idx"),
            models.Index(fields=["email_account", "is_read"], name="emails_thread_acct_read_idx"),
            models.Index(fields=["category"], name="emails_thread_category_idx"),
        ]
        constraints = [
            choices_check("emails_emailthread", "category", ThreadCategory),
            choices_check("emails_emailthread", "sentiment", Sentiment, nullable=True),
        ]

    def __str__(self) -> str:
        return self.subject


class Email(models.Model):
    thread = models.ForeignKey(
        EmailThread, on_delete=models.SET_NULL, null=True, blank=True, related_name="emails"
    )
    email_account = models.ForeignKey(EmailAccount, on_delete=models.CASCADE, related_name="emails")
    message_id = models.CharField(max_length=255)
    from_email = models.EmailField()
    from_name = models.CharField(max_length=255, blank=True, default="")
    to_emails = models.JSONField(default=list, blank=True)
    cc_emails = models.JSONField(null=True, blank=True)
    bcc_emails = models.JSONField(null=True, blank=True)
    subject = models.CharField(max_length=500)
    body_text = models.TextField()
    body_html = models.TextField(blank=True, default="")
    direction = models.CharField(max_length=16, choices=Direction.choices)
    status = models.CharField(max_length=16, choices=EmailStatus.choices, default=EmailStatus.DRAFT)
    is_read = models.BooleanField(default=False)
    read_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    tracking_enabled = models.BooleanField(default=True)
    opens_count = models.IntegerField(default=0)
    clicks_count = models.IntegerField(default=0)
    reply_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    has_attachments = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Kept from Phase 6 for IMAP sync and threading (SCHEMA.md D3).
    in_reply_to = models.CharField(max_length=512, null=True, blank=True)
    references = models.TextField(null=True, blank=True)
    folder = models.CharField(max_length=64, null=True, blank=True)
    uid = models.IntegerField(null=True, blank=True)

    class Meta:
        db_table = "emails_email"
        indexes = [
            models.Index(fields=["thread", "sent_at"], name="emails_email_thread_sent_idx"),
            models.Index(fields=["email_account", "status"], name="emails_email_acct_status_idx"),
            models.Index(fields=["direction"], name="emails_email_direction_idx"),
        ]
        constraints = [
            # SCHEMA.md D10: unique per account, not globally.
            models.UniqueConstraint(
                fields=["email_account", "message_id"], name="emails_email_account_message_id_uniq"
            ),
            choices_check("emails_email", "direction", Direction),
            choices_check("emails_email", "status", EmailStatus),
        ]

    def __str__(self) -> str:
        return self.subject


class EmailAttachment(models.Model):
    email = models.ForeignKey(Email, on_delete=models.CASCADE, related_name="attachments")
    file_name = models.CharField(max_length=255)
    file_size = models.IntegerField()
    file_type = models.CharField(max_length=255)
    file_path = models.FileField(upload_to="email_attachments/")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "emails_emailattachment"

    def __str__(self) -> str:
        return self.file_name


class EmailTemplate(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="email_templates")
    name = models.CharField(max_length=255)
    subject = models.CharField(max_length=500)
    body_html = models.TextField()
    body_text = models.TextField(blank=True, default="")
    category = models.CharField(max_length=32, choices=TemplateCategory.choices)
    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    is_active = models.BooleanField(default=True)
    usage_count = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "emails_emailtemplate"
        indexes = [models.Index(fields=["company", "category"], name="emails_tpl_co_category_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "name"], name="emails_emailtemplate_company_name_uniq"
            ),
            choices_check("emails_emailtemplate", "category", TemplateCategory),
        ]

    def __str__(self) -> str:
        return self.name


class EmailRule(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="email_rules")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    trigger = models.CharField(max_length=64, choices=RuleTrigger.choices)
    conditions = models.JSONField(default=dict, blank=True)
    actions = models.JSONField(default=dict, blank=True)
    template = models.ForeignKey(
        EmailTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="rules"
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "emails_emailrule"
        constraints = [choices_check("emails_emailrule", "trigger", RuleTrigger)]

    def __str__(self) -> str:
        return self.name


class EmailSyncLog(models.Model):
    email_account = models.ForeignKey(
        EmailAccount, on_delete=models.CASCADE, related_name="sync_logs"
    )
    sync_started_at = models.DateTimeField()
    sync_completed_at = models.DateTimeField(null=True, blank=True)
    emails_synced = models.IntegerField(default=0)
    status = models.CharField(max_length=32, choices=SyncStatus.choices)
    error_message = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "emails_emailsynclog"
        constraints = [choices_check("emails_emailsynclog", "status", SyncStatus)]

    def __str__(self) -> str:
        return f"{self.email_account} {self.sync_started_at:%Y-%m-%d %H:%M} {self.status}"


class EmailTracking(models.Model):
    email = models.ForeignKey(Email, on_delete=models.CASCADE, related_name="tracking_events")
    event_type = models.CharField(max_length=16, choices=TrackingEvent.choices)
    tracked_at = models.DateTimeField(auto_now_add=True)
    ip_address = models.CharField(max_length=45, null=True, blank=True)
    user_agent = models.TextField(null=True, blank=True)
    link_url = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "emails_emailtracking"
        indexes = [
            models.Index(fields=["email", "event_type"], name="emails_track_email_type_idx"),
            models.Index(fields=["-tracked_at"], name="emails_track_tracked_at_idx"),
        ]
        constraints = [choices_check("emails_emailtracking", "event_type", TrackingEvent)]

    def __str__(self) -> str:
        return f"{self.event_type} on {self.email_id}"


# The hub's own tables of this app (``hub_email_*``), defined beside the shared ones.
from hub.domain.emails.hub_models import (  # noqa: E402, F401
    DeliveryState,
    EmailDelivery,
    EmailLink,
    EmailRuleProblem,
    EmailThreadRef,
    FolderRole,
    MailFolderCursor,
    MailSyncState,
)
