"""Console page for issues (bugs, features, tasks)."""

from __future__ import annotations

from django.contrib import admin

from hub.console.admin.base import ScopedModelAdmin
from hub.domain.issues.models import Issue


@admin.register(Issue)
class IssueAdmin(ScopedModelAdmin):
    list_display = (
        "title",
        "company",
        "status",
        "priority",
        "issue_type",
        "assigned_to",
        "deal",
        "github_issue_id",
        "created_at",
        "updated_at",
    )
    list_filter = ("status", "priority", "issue_type", "company", "assigned_to")
    search_fields = ("title", "description")
    list_select_related = ("company", "assigned_to", "deal")
    autocomplete_fields = ("assigned_to", "deal", "contact", "created_by")
    date_hierarchy = "created_at"
