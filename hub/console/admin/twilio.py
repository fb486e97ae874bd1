"""Console page for the Twilio webhook inbox (superusers): what came in, what it did.

Read-only, but for one action: process again the rows that were never applied.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from hub.console.admin.base import SuperuserOnlyAdmin
from hub.console.admin.listing import clip_column, time_column
from hub.integrations.twilio.inbox import callback_requeue
from hub.integrations.twilio.models import TwilioCallback
from hub.workers.twilio import twilio_callback_process


class ProcessedFilter(admin.SimpleListFilter):
    title = "processed"
    parameter_name = "processed"

    def lookups(self, request, model_admin):
        return (("yes", "Processed"), ("no", "Waiting"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(processed_at__isnull=self.value() == "no")
        return queryset


@admin.register(TwilioCallback)
class TwilioCallbackAdmin(SuperuserOnlyAdmin):
    list_display = (
        "id",
        "kind",
        clip_column("call_sid", "call SID"),
        "sequence_number",
        time_column("verified_at", "verified"),
        time_column("processed_at", "processed"),
        "attempts",
        clip_column("outcome"),
    )
    list_filter = ("kind", ProcessedFilter)
    search_fields = ("=call_sid", "outcome")
    date_hierarchy = "verified_at"
    ordering = ("-id",)
    show_full_result_count = False
    fields = (
        "id",
        "kind",
        "call_sid",
        "sequence_number",
        "verified_at",
        "processed_at",
        "attempts",
        "outcome",
        "last_error",
        "content_hash",
        "params_json",
    )
    readonly_fields = fields
    actions = ("process_again",)

    @admin.action(description="Process again (rows not yet applied or given up)")
    def process_again(self, request, queryset) -> None:
        queued, left = callback_requeue(
            list(queryset.values_list("pk", flat=True)), enqueue=twilio_callback_process.send
        )
        if queued:
            self.message_user(request, f"{queued} callback(s) queued to be processed again.")
        if left:
            self.message_user(
                request,
                f"{left} callback(s) were applied already and were left alone.",
                messages.WARNING,
            )

    @admin.display(description="params")
    def params_json(self, callback: TwilioCallback) -> str:
        return format_html("<pre>{}</pre>", json.dumps(callback.params, indent=2, sort_keys=True))
