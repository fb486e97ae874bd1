"""The figures of the operations page that several processes write and any web process reads.

Web processes and workers are separate processes (several of each), so what one counts is kept
in a table rather than in memory: the workers' message counters per queue and actor, the
scheduler's last run of each job, and each web process's open websockets per company.
"""

from __future__ import annotations

from django.db import models


class WorkerQueueStat(models.Model):
    """Messages of one actor on one queue, counted by every worker (``hub.workers.stats``)."""

    queue = models.CharField(max_length=255)
    actor = models.CharField(max_length=255)
    processed = models.BigIntegerField(default=0, help_text="Ran without an error.")
    failed = models.BigIntegerField(default=0, help_text="Dead-lettered: no retry left.")
    retried = models.BigIntegerField(default=0, help_text="Failed and enqueued again.")
    last_error = models.TextField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "hub_worker_queue_stat"
        verbose_name = "worker queue counter"
        constraints = [
            models.UniqueConstraint(fields=["queue", "actor"], name="hub_worker_queue_stat_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.queue} / {self.actor}"


class SchedulerRun(models.Model):
    """The last time the scheduler enqueued a periodic job, and how that went."""

    job = models.CharField(max_length=255, unique=True, help_text="The actor's dotted path.")
    last_run = models.DateTimeField()
    last_outcome = models.CharField(max_length=255)

    class Meta:
        db_table = "hub_scheduler_run"
        verbose_name = "scheduler run"

    def __str__(self) -> str:
        return f"{self.job}: {self.last_outcome}"


class WebPresence(models.Model):
    """One web process's open websocket connections per company, saved every few seconds."""

    process = models.CharField(max_length=255, unique=True)
    by_company = models.JSONField(
        default=dict, help_text='Connections per company id ("none": no company).'
    )
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "hub_web_presence"
        verbose_name = "web process presence"
        verbose_name_plural = "web process presence"

    def __str__(self) -> str:
        return self.process
