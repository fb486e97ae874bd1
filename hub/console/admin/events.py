"""Console pages for the hub's own tables: the event log, its outbox and the relay's cursor (read-only)."""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import Q
from django.utils.html import format_html

from hub.console.admin.base import SuperuserOnlyAdmin
from hub.domain.events.models import Event, EventOutbox, RelayCursor


@admin.register(Event)
class EventAdmin(SuperuserOnlyAdmin):
    list_display = ("id", "type", "topic", "audience", "company_id", "user_id", "created_at")
    list_filter = ("topic", "audience", "type")
    search_fields = ("type", "topic")
    date_hierarchy = "created_at"
    ordering = ("-id",)
    show_full_result_count = False
    fields = (
        "id",
        "type",
        "topic",
        "audience",
        "company_id",
        "user_id",
        "created_at",
        "payload_json",
    )
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if term.isdigit():  # an event id, or the company or user it concerns
            value = int(term)
            return queryset.filter(Q(id=value) | Q(company_id=value) | Q(user_id=value)), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="payload")
    def payload_json(self, event: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.payload, indent=2, sort_keys=True))


@admin.register(RelayCursor)
class RelayCursorAdmin(SuperuserOnlyAdmin):
    list_display = ("name", "last_event_id", "updated_at")
    fields = ("name", "last_event_id", "updated_at")
    readonly_fields = fields


@admin.register(EventOutbox)
class EventOutboxAdmin(SuperuserOnlyAdmin):
    """Committed events the relay has not logged yet: rows that stay here mean no relay runs."""

    list_display = ("id", "type", "topic", "audience", "company_id", "user_id", "created_at")
    ordering = ("id",)
    fields = ("id", "type", "topic", "audience", "company_id", "user_id", "created_at", "payload")
    readonly_fields = fields
