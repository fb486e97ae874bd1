"""The hub's Slack state: which workspace belongs to which company, and who is who.

``hub_slack_installation``: one row per Slack workspace (team), tied to one company, holding
the bot token as a Fernet token (``EMAIL_ENCRYPTION_KEY``, like mailbox credentials).
``hub_slack_user_link``: a Slack user of an installed workspace and the hub user they are,
found once by e-mail through ``users.info`` and kept.
``hub_slack_call_request``: one row per ``/call`` a worker took up, so a job the broker delivers
again (its worker died mid-job) never rings a number twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from hub.domain.authentication.models import Company


class SlackInstallation(models.Model):
    team_id = models.CharField(max_length=32, unique=True, help_text="Slack's team id, T…")
    team_name = models.CharField(max_length=255, blank=True, default="")
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="slack_installations"
    )
    bot_token = models.TextField(help_text="The bot token (xoxb-…), encrypted.")
    bot_user_id = models.CharField(max_length=32, blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "hub_slack_installation"
        verbose_name = "Slack installation"

    def __str__(self) -> str:
        # No company: lists and filter choices name installations without a query each.
        return f"{self.team_name} ({self.team_id})" if self.team_name else self.team_id


class SlackUserLink(models.Model):
    installation = models.ForeignKey(
        SlackInstallation, on_delete=models.CASCADE, related_name="user_links"
    )
    slack_user_id = models.CharField(max_length=32)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="slack_links"
    )
    email = models.EmailField(max_length=254, help_text="The e-mail Slack gave when linked.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "hub_slack_user_link"
        verbose_name = "Slack user link"
        constraints = [
            models.UniqueConstraint(
                fields=["installation", "slack_user_id"], name="hub_slack_user_link_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.slack_user_id} → {self.user}"


class SlackCallRequest(models.Model):
    """A ``/call`` a worker took up: claimed before Twilio is asked, then its call."""

    request_id = models.CharField(max_length=64, unique=True)
    installation = models.ForeignKey(
        SlackInstallation, on_delete=models.CASCADE, related_name="call_requests"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    to_number = models.CharField(max_length=32)
    call = models.ForeignKey(
        "calls.Call", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.TextField(blank=True, default="")
    claimed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hub_slack_call_request"
        verbose_name = "Slack call request"

    def __str__(self) -> str:
        return f"/call {self.to_number} ({self.request_id})"
