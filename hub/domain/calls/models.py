"""Phone numbers, calls, recordings, notes and voicemail (``calls_*``)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from hub.domain.common import choices_check

User = settings.AUTH_USER_MODEL
Company = "authentication.Company"


class NumberType(models.TextChoices):
    MOBILE = "Mobile", "Mobile"
    LANDLINE = "Landline", "Landline"
    VOIP = "VoIP", "VoIP"


class CallDirection(models.TextChoices):
    INBOUND = "Inbound", "Inbound"
    OUTBOUND = "Outbound", "Outbound"


class CallStatus(models.TextChoices):
    INITIATED = "Initiated", "Initiated"
    RINGING = "Ringing", "Ringing"
    IN_PROGRESS = "InProgress", "In progress"
    COMPLETED = "Completed", "Completed"
    FAILED = "Failed", "Failed"
    BUSY = "Busy", "Busy"
    NO_ANSWER = "NoAnswer", "No answer"
    CANCELLED = "Cancelled", "Cancelled"


TERMINAL_CALL_STATUSES = frozenset(
    {
        CallStatus.COMPLETED,
        CallStatus.FAILED,
        CallStatus.BUSY,
        CallStatus.NO_ANSWER,
        CallStatus.CANCELLED,
    }
)


class Disposition(models.TextChoices):
    CONNECTED = "Connected", "Connected"
    NO_ANSWER = "NoAnswer", "No answer"
    BUSY = "Busy", "Busy"
    FAILED = "Failed", "Failed"
    VOICEMAIL = "Voicemail", "Voicemail"
    OTHER = "other", "Other"


class PhoneNumber(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="phone_numbers")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="phone_numbers")
    phone_number = models.CharField(max_length=20)
    country_code = models.CharField(max_length=5)
    number_type = models.CharField(max_length=20, choices=NumberType.choices)
    provider = models.CharField(max_length=50, default="Twilio")
    twilio_phone_sid = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    capabilities = models.JSONField(default=dict, blank=True)
    monthly_cost = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    purchased_at = models.DateTimeField(auto_now_add=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "calls_phonenumber"
        indexes = [
            models.Index(fields=["company", "is_active"], name="calls_number_co_active_idx"),
            models.Index(fields=["user", "is_default"], name="calls_number_user_default_idx"),
        ]
        constraints = [choices_check("calls_phonenumber", "number_type", NumberType)]

    def __str__(self) -> str:
        return self.phone_number


class Call(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="calls")
    phone_number = models.ForeignKey(
        PhoneNumber, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    lead = models.ForeignKey(
        "crm.Lead", on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    deal = models.ForeignKey(
        "crm.Deal", on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    customer = models.ForeignKey(
        "authentication.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="calls",
    )
    direction = models.CharField(max_length=10, choices=CallDirection.choices)
    from_number = models.CharField(max_length=20)
    to_number = models.CharField(max_length=20)
    status = models.CharField(
        max_length=20, choices=CallStatus.choices, default=CallStatus.INITIATED
    )
    duration = models.IntegerField(null=True, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    recording_url = models.URLField(null=True, blank=True)
    recording_duration = models.IntegerField(null=True, blank=True)
    twilio_call_sid = models.CharField(max_length=100, unique=True)
    price = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    price_unit = models.CharField(max_length=10, default="USD")
    notes = models.TextField(blank=True, default="")
    disposition = models.CharField(
        max_length=20, choices=Disposition.choices, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "calls_call"
        indexes = [
            models.Index(fields=["company", "user"], name="calls_call_co_user_idx"),
            models.Index(fields=["company", "direction"], name="calls_call_co_direction_idx"),
            models.Index(fields=["company", "status"], name="calls_call_co_status_idx"),
            models.Index(fields=["company", "created_at"], name="calls_call_co_created_idx"),
        ]
        constraints = [
            choices_check("calls_call", "direction", CallDirection),
            choices_check("calls_call", "status", CallStatus),
            choices_check("calls_call", "disposition", Disposition, nullable=True),
        ]

    def __str__(self) -> str:
        return (
            f"{self.direction} {self.from_number} → {self.to_number} ({self.get_status_display()})"
        )


class CallRecording(models.Model):
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="recordings")
    recording_url = models.URLField()
    recording_sid = models.CharField(max_length=100, unique=True)
    duration = models.IntegerField()
    file_size = models.IntegerField(null=True, blank=True)
    transcription = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "calls_callrecording"

    def __str__(self) -> str:
        return self.recording_sid


class CallNote(models.Model):
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="call_notes")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    note = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "calls_callnote"

    def __str__(self) -> str:
        return self.note[:60]


class VoicemailMessage(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="voicemails")
    phone_number = models.ForeignKey(
        PhoneNumber, on_delete=models.SET_NULL, null=True, blank=True, related_name="voicemails"
    )
    from_number = models.CharField(max_length=20)
    duration = models.IntegerField()
    recording_url = models.URLField()
    transcription = models.TextField(null=True, blank=True)
    is_listened = models.BooleanField(default=False)
    listened_at = models.DateTimeField(null=True, blank=True)
    listened_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "calls_voicemailmessage"
        indexes = [models.Index(fields=["company", "is_listened"], name="calls_vm_co_listened_idx")]

    def __str__(self) -> str:
        return f"Voicemail from {self.from_number}"


# Hub-owned (hub_opening_hours), kept beside the calls it governs; imported to be registered.
from hub.domain.calls.hours import OpeningHours  # noqa: E402, F401
