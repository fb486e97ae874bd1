"""The hub's append-only event log (``hub_event``): the spine every live push comes from."""

from __future__ import annotations

from django.db import models

from hub.domain.common import choices_check


class Audience(models.TextChoices):
    # The event's user only (notifications; a new e-mail's account owner).
    USER = "user", "One user"
    # Every active member of the event's company (calls).
    COMPANY = "company", "Company members"
    # Company members with can_manage_deals, plus the event's user (the assignee).
    DEAL_MANAGERS = "deal_managers", "Deal managers and assignee"


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    company_id = models.IntegerField(null=True, blank=True)
    audience = models.CharField(max_length=16, choices=Audience.choices)
    user_id = models.IntegerField(null=True, blank=True)
    topic = models.CharField(max_length=32)
    type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "hub_event"
        indexes = [
            models.Index(fields=["company_id", "id"], name="hub_event_company_id_idx"),
            models.Index(fields=["user_id", "id"], name="hub_event_user_id_idx"),
        ]
        constraints = [choices_check("hub_event", "audience", Audience)]

    def __str__(self) -> str:
        return f"#{self.id} {self.type}"


class EventOutbox(models.Model):
    """Events written on PostgreSQL, waiting for their transaction to commit and the relay.

    Triggers append here, inside the writing transaction. The relay moves committed rows into
    ``hub_event`` in the order it sees them commit, so a log id is a position in commit order
    and an open transaction never holds back the events committed after it started.
    """

    id = models.BigAutoField(primary_key=True)
    company_id = models.IntegerField(null=True, blank=True)
    audience = models.CharField(max_length=16, choices=Audience.choices)
    user_id = models.IntegerField(null=True, blank=True)
    topic = models.CharField(max_length=32)
    type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "hub_event_outbox"

    def __str__(self) -> str:
        return f"outbox #{self.id} {self.type}"


class RelayCursor(models.Model):
    """How far the relay has fanned out the log (its watermark survives restarts)."""

    name = models.CharField(max_length=64, primary_key=True)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "hub_relay_cursor"

    def __str__(self) -> str:
        return f"{self.name} at #{self.last_event_id}"
