"""The hub's own e-mail tables (``hub_email_*``): what syncing, threading, sending, tracking and
rules need to remember beside the shared ``emails_*`` tables. Imported by ``models.py``."""

from __future__ import annotations

from django.db import models

from hub.domain.common import choices_check


class FolderRole(models.TextChoices):
    INBOX = "inbox", "Inbox"
    SENT = "sent", "Sent"


class MailFolderCursor(models.Model):
    """How far a folder of a mailbox has been read: its UIDVALIDITY, the last UID seen and, on
    servers with CONDSTORE, the HIGHESTMODSEQ up to which flag changes were taken."""

    account = models.ForeignKey(
        "emails.EmailAccount", on_delete=models.CASCADE, related_name="folder_cursors"
    )
    role = models.CharField(max_length=16, choices=FolderRole.choices)
    name = models.CharField(max_length=255, help_text="The folder's name on the server.")
    uidvalidity = models.BigIntegerField()
    last_uid = models.BigIntegerField(default=0)
    highest_modseq = models.BigIntegerField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "hub_email_folder_cursor"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "role"], name="hub_email_folder_cursor_account_role_uniq"
            ),
            choices_check("hub_email_folder_cursor", "role", FolderRole),
        ]

    def __str__(self) -> str:
        return (
            f"{self.account_id} {self.name} (UIDVALIDITY {self.uidvalidity}, UID {self.last_uid})"
        )


class MailSyncState(models.Model):
    """One per account: the lease that keeps one sync run per account however many workers,
    and the failure the owner has been told about (told once, not on every retry)."""

    account = models.OneToOneField(
        "emails.EmailAccount", on_delete=models.CASCADE, primary_key=True, related_name="sync_state"
    )
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=64, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    failing_since = models.DateTimeField(null=True, blank=True)
    owner_notified_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "hub_email_sync_state"

    def __str__(self) -> str:
        return f"sync state of account {self.account_id}"


class EmailThreadRef(models.Model):
    """Every Message-ID a thread's messages carry or cite (their own, ``In-Reply-To``,
    ``References``), so a reply that arrives before its parent still finds the thread."""

    account = models.ForeignKey("emails.EmailAccount", on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=255)
    thread = models.ForeignKey(
        "emails.EmailThread", on_delete=models.CASCADE, related_name="message_refs"
    )

    class Meta:
        db_table = "hub_email_thread_ref"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "message_id"], name="hub_email_thread_ref_account_msgid_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.message_id} → thread {self.thread_id}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class EmailDelivery(models.Model):
    """The sending of one outbound e-mail: attempts, the last error, and the claim that keeps
    two workers from sending it at once."""

    email = models.OneToOneField(
        "emails.Email", on_delete=models.CASCADE, primary_key=True, related_name="delivery"
    )
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.IntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hub_email_delivery"
        verbose_name = "e-mail delivery"
        verbose_name_plural = "e-mail deliveries"
        constraints = [choices_check("hub_email_delivery", "state", DeliveryState)]

    def __str__(self) -> str:
        return f"delivery of e-mail {self.email_id}: {self.state}"


class EmailLink(models.Model):
    """A link of a sent e-mail, rewritten to the click redirect: the token names this row, and
    the redirect goes only to the URL stored here (no open redirect)."""

    email = models.ForeignKey(
        "emails.Email", on_delete=models.CASCADE, related_name="tracked_links"
    )
    url = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hub_email_link"

    def __str__(self) -> str:
        return self.url


class EmailRuleProblem(models.Model):
    """Why a rule could not run (bad JSON, an unknown condition or action, a missing template),
    shown in the admin; a rule with a problem is skipped and never stops a sync."""

    rule = models.OneToOneField(
        "emails.EmailRule", on_delete=models.CASCADE, primary_key=True, related_name="problem"
    )
    message = models.TextField()
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    occurrences = models.IntegerField(default=1)

    class Meta:
        db_table = "hub_email_rule_problem"

    def __str__(self) -> str:
        return f"rule {self.rule_id}: {self.message}"
