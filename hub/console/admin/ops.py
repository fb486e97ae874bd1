"""Console pages for the operations figures' tables (read-only, superusers): the workers' queue
counters, the scheduler's last runs and each web process's open websockets."""

from __future__ import annotations

from django.contrib import admin

from hub.console.admin.base import SuperuserOnlyAdmin
from hub.ops.models import SchedulerRun, WebPresence, WorkerQueueStat


@admin.register(WorkerQueueStat)
class WorkerQueueStatAdmin(SuperuserOnlyAdmin):
    list_display = ("queue", "actor", "processed", "retried", "failed", "last_error_at")
    list_filter = ("queue",)
    search_fields = ("queue", "actor", "last_error")
    ordering = ("queue", "actor")
    fields = (
        "id",
        "queue",
        "actor",
        "processed",
        "retried",
        "failed",
        "last_error",
        "last_error_at",
        "updated_at",
    )
    readonly_fields = fields


@admin.register(SchedulerRun)
class SchedulerRunAdmin(SuperuserOnlyAdmin):
    list_display = ("job", "last_run", "last_outcome")
    search_fields = ("job", "last_outcome")
    ordering = ("job",)
    fields = ("id", "job", "last_run", "last_outcome")
    readonly_fields = fields


@admin.register(WebPresence)
class WebPresenceAdmin(SuperuserOnlyAdmin):
    list_display = ("process", "updated_at", "by_company")
    search_fields = ("process",)
    ordering = ("process",)
    fields = ("id", "process", "by_company", "updated_at")
    readonly_fields = fields
