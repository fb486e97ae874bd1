"""The hub's Slack state: which workspace belongs to which company, and who is who.

``hub_slack_installation``: one row per Slack workspace (team), tied to one company, holding
the bot token as a Fernet token (``EMAIL_ENCRYPTION_KEY``, like mailbox credentials).
``hub_slack_user_link``: a Slack user of an installed workspace and the hub user they are,
found once by e-mail through ``users.info`` and kept.
``hub_slack_call_request``: one row per ``/call`` a worker took up, so a job the broker delivers
again (its worker died mid-job) never rings a number twice.
``hub_slack_alert``: one row per Slack message an event of the log turns into (a deal won, lost or
moved → the alerts channel; an assignment, a missed call → a DM), unique per event, kind and
recipient, so each is posted once, in log order per workspace.
``hub_slack_oauth_state``: the ``state`` of an "Add to Slack" install under way: who started it and
for which company; used once, within minutes.
``hub_slack_event_receipt``: the Events API deliveries taken (by ``event_id``), so Slack's retries
of an event are answered without doing its work twice.
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
    # Set by an "Add to Slack" install (empty for one made with slack_install).
    app_id = models.CharField(max_length=32, blank=True, default="")
    enterprise_id = models.CharField(max_length=32, blank=True, default="")
    bot_scopes = models.TextField(blank=True, default="", help_text="Comma-separated.")
    installed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The console user who added the workspace with “Add to Slack”.",
    )
    installer_slack_user_id = models.CharField(max_length=32, blank=True, default="")
    # Alerts: where they go and which kinds are on.
    alerts_channel_id = models.CharField(
        max_length=32,
        blank=True,
        default="",
        help_text="The channel (C…) deals won, lost and moved are posted to; empty: none.",
    )
    alerts_channel_error = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="Why the last alert could not be posted to the channel (e.g. the bot was "
        "removed from it); cleared when an alert gets through or the channel is changed.",
    )
    alert_deal_won = models.BooleanField(default=True, help_text="Post deals won.")
    alert_deal_lost = models.BooleanField(default=True, help_text="Post deals lost.")
    alert_deal_moved = models.BooleanField(default=True, help_text="Post deals moved to a stage.")
    alert_assigned = models.BooleanField(
        default=True, help_text="DM a member a lead or deal assigned to them."
    )
    alert_missed_call = models.BooleanField(
        default=True, help_text="DM a number's owner its missed calls and voicemails."
    )
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


class AlertKind(models.TextChoices):
    DEAL_WON = "deal_won", "Deal won"
    DEAL_LOST = "deal_lost", "Deal lost"
    DEAL_MOVED = "deal_moved", "Deal moved"
    DEAL_ASSIGNED = "deal_assigned", "Deal assigned"
    LEAD_ASSIGNED = "lead_assigned", "Lead assigned"
    MISSED_CALL = "missed_call", "Missed call"
    VOICEMAIL = "voicemail", "Voicemail"


class AlertStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class SlackAlert(models.Model):
    """A Slack message owed for one event of the log, to one channel or one member."""

    installation = models.ForeignKey(
        SlackInstallation, on_delete=models.CASCADE, related_name="alerts"
    )
    event_id = models.BigIntegerField(help_text="The hub_event row it comes from.")
    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    # Where: a channel id (C…), or a hub user to DM (their Slack user found when sent).
    channel_id = models.CharField(max_length=32, blank=True, default="")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The member a DM goes to.",
    )
    recipient = models.CharField(
        max_length=64, help_text="channel:C… or user:<id>; unique with the event and kind."
    )
    payload = models.JSONField(default=dict, help_text="The event's payload, as logged.")
    status = models.CharField(
        max_length=16, choices=AlertStatus.choices, default=AlertStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True, default="")
    message_ts = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "hub_slack_alert"
        verbose_name = "Slack alert"
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "kind", "recipient"], name="hub_slack_alert_once"
            )
        ]
        indexes = [
            models.Index(fields=["installation", "status", "id"], name="hub_slack_alert_queue_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.event_id} → {self.recipient}"


class SlackOAuthState(models.Model):
    """An "Add to Slack" install under way: the ``state`` Slack hands back, used once."""

    state = models.CharField(max_length=128, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "hub_slack_oauth_state"
        verbose_name = "Slack install state"

    def __str__(self) -> str:
        return f"install for company {self.company_id} by user {self.user_id}"


class SlackEventReceipt(models.Model):
    """An Events API delivery taken up, by Slack's ``event_id``: a retry finds it, does nothing."""

    event_id = models.CharField(max_length=64, unique=True)
    team_id = models.CharField(max_length=32, blank=True, default="")
    event_type = models.CharField(max_length=64, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hub_slack_event_receipt"
        verbose_name = "Slack event receipt"

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"
