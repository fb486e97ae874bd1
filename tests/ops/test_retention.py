"""A retention run as the scheduler's job and ``manage.py hub_prune`` make it, with its metrics."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from prometheus_client.parser import text_string_to_metric_families

from hub.domain.events.models import Event, RelayCursor
from hub.domain.events.selectors import RELAY_CURSOR
from hub.integrations.twilio.models import TwilioCallback
from hub.workers.retention import retention_prune
from hub.workers.scheduler import RETENTION_ACTOR, HubScheduler, Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def old_rows(settings):
    """12 events past the replay window (and a young newest one), 3 callbacks applied long ago."""
    settings.HUB_RETENTION_BATCH_SIZE = 5
    long_ago = timezone.now() - timedelta(seconds=settings.HUB_REPLAY_WINDOW_SECONDS, hours=1)
    for _ in range(12):
        Event.objects.create(audience="company", topic="calls", type="call.updated")
    Event.objects.update(created_at=long_ago)
    newest = Event.objects.create(audience="company", topic="calls", type="call.updated")
    RelayCursor.objects.update_or_create(name=RELAY_CURSOR, defaults={"last_event_id": newest.id})
    applied = timezone.now() - timedelta(days=settings.HUB_TWILIO_CALLBACK_RETENTION_DAYS + 1)
    for n in range(3):
        TwilioCallback.objects.create(
            kind="status",
            params={"n": n},
            verified_at=applied,
            call_sid=f"CA{n:032x}",
            content_hash=f"retention-{n}",
            processed_at=applied,
            outcome="completed",
            attempts=1,
        )
    return newest


def _samples(client) -> dict[tuple[str, str], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["hub_retention_deleted_rows"].type == "counter"
    assert families["hub_table_size_bytes"].type == "gauge"
    return {
        (sample.name, sample.labels["table"]): sample.value
        for name in ("hub_retention_deleted_rows", "hub_table_size_bytes")
        for sample in families[name].samples
        if "table" in sample.labels
    }


def test_the_actor_deletes_and_metrics_show_what_and_how_big(client, old_rows):
    before = _samples(client)
    deleted = ("hub_retention_deleted_rows_total", "hub_event")
    callbacks = ("hub_retention_deleted_rows_total", "hub_twilio_callback")

    retention_prune()  # what a worker runs when the scheduler's message comes

    after = _samples(client)
    assert after[deleted] - before.get(deleted, 0) == 12
    assert after[callbacks] - before.get(callbacks, 0) == 3
    assert list(Event.objects.values_list("id", flat=True)) == [old_rows.id]
    assert not TwilioCallback.objects.exists()
    sizes = {table: v for (name, table), v in after.items() if name == "hub_table_size_bytes"}
    if connection.vendor == "postgresql":
        assert sizes["hub_event"] > 0 and sizes["hub_twilio_callback"] > 0
    else:
        assert sizes == {}  # no size on SQLite rather than a row count under a bytes name


def test_hub_prune_prints_each_batch_and_what_it_deleted(old_rows):
    out = io.StringIO()
    call_command("hub_prune", "--dry-run", stdout=out)
    assert "hub_event: would delete 12 rows" in out.getvalue()
    assert "hub_twilio_callback: would delete 3 rows" in out.getvalue()
    assert Event.objects.count() == 13 and TwilioCallback.objects.count() == 3

    out = io.StringIO()
    call_command("hub_prune", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == "hub_prune: 5 rows per batch, at most 100000 per table"
    assert "  hub_event: batch 1, 5 rows (5 so far)" in lines
    assert "  hub_event: batch 3, 2 rows (12 so far)" in lines
    assert "hub_event: deleted 12 rows" in lines
    assert "hub_twilio_callback: deleted 3 rows" in lines
    assert Event.objects.count() == 1 and TwilioCallback.objects.count() == 0


def test_the_scheduler_enqueues_the_retention_actor():
    broker = StubBroker()
    scheduler = HubScheduler([Job(RETENTION_ACTOR, 0.05)], broker=broker)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while "default" not in broker.queues or broker.queues["default"].qsize() < 2:
            assert time.monotonic() < deadline, "the retention actor was not enqueued"
            time.sleep(0.01)
    finally:
        scheduler.stop()

    names = {Message.decode(m).actor_name for m in list(broker.queues["default"].queue)}
    assert names == {"retention_prune"}
