"""The inbox of Twilio webhooks (``hub_twilio_callback``): every verified callback, stored raw.

A row is written before the webhook answers 2xx, so nothing Twilio told us is lost when the
broker or a worker is down; ``processed_at`` is set in the same transaction as the row's effect,
so nothing is applied twice.
"""

from __future__ import annotations

from django.db import models

from hub.domain.common import choices_check


class CallbackKind(models.TextChoices):
    STATUS = "status", "Call status"
    RECORDING = "recording", "Recording status"
    INCOMING = "incoming", "Incoming call"
    DIALED = "dialed", "Dial result"
    VOICEMAIL = "voicemail", "Voicemail"


class TwilioCallback(models.Model):
    kind = models.CharField(max_length=16, choices=CallbackKind.choices)
    params = models.JSONField(help_text="The POST parameters as Twilio sent them.")
    verified_at = models.DateTimeField(help_text="When the signature was checked.")
    call_sid = models.CharField(max_length=64, db_index=True)
    sequence_number = models.IntegerField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, unique=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=255, blank=True, default="")
    attempts = models.IntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "hub_twilio_callback"
        constraints = [
            choices_check("hub_twilio_callback", "kind", CallbackKind),
            models.UniqueConstraint(
                fields=["kind", "call_sid", "sequence_number"],
                condition=models.Q(sequence_number__isnull=False),
                name="hub_twilio_callback_sequence_uniq",
            ),
        ]
        indexes = [
            models.Index(
                fields=["verified_at"],
                condition=models.Q(processed_at__isnull=True),
                name="hub_twilio_cb_unprocessed_idx",
            ),
            # The drain's claim: rows never tried, oldest first (an index scan in id order that
            # stops at the batch's size, and learns to skip the entries of rows applied since).
            models.Index(
                fields=["id"],
                condition=models.Q(processed_at__isnull=True, attempts=0),
                name="hub_twilio_cb_untried_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.call_sid} #{self.sequence_number}"
