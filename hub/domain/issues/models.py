"""Bug and task tracking (``issues_issue``)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from hub.domain.common import choices_check


class IssueStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class IssuePriority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class IssueType(models.TextChoices):
    BUG = "bug", "Bug"
    FEATURE = "feature", "Feature"
    TASK = "task", "Task"


class Issue(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=IssueStatus.choices, default=IssueStatus.OPEN, db_index=True
    )
    priority = models.CharField(
        max_length=20, choices=IssuePriority.choices, default=IssuePriority.MEDIUM, db_index=True
    )
    issue_type = models.CharField(max_length=20, choices=IssueType.choices)
    github_issue_id = models.IntegerField(null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_issues",
    )
    deal = models.ForeignKey(
        "crm.Deal", on_delete=models.SET_NULL, null=True, blank=True, related_name="issues"
    )
    contact = models.ForeignKey(
        "authentication.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="issues",
    )
    company = models.ForeignKey(
        "authentication.Company", on_delete=models.CASCADE, related_name="issues"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "issues_issue"
        constraints = [
            choices_check("issues_issue", "status", IssueStatus),
            choices_check("issues_issue", "priority", IssuePriority),
            choices_check("issues_issue", "issue_type", IssueType),
        ]

    def __str__(self) -> str:
        return self.title
