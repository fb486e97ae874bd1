"""/metrics: the operations figures (queues, relay, Twilio inbox, clients), read at scrape time."""

from __future__ import annotations

from datetime import timedelta

import dramatiq
import pytest
from django.db import connection
from django.utils import timezone
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from prometheus_client.parser import text_string_to_metric_families

from hub.domain.events.models import EventOutbox
from hub.integrations.twilio.inbox import callback_store
from hub.integrations.twilio.models import TwilioCallback
from hub.ops import health
from hub.ops.models import WorkerQueueStat
from tests.ops.conftest import global_broker

pytestmark = pytest.mark.django_db


def samples(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_show_the_queues_relay_inbox_and_clients(client, acme):
    broker = StubBroker()
    broker.declare_queue("opsmetrics")
    for _ in range(3):
        broker.enqueue(dramatiq.Message("opsmetrics", "noop", (), {}, {}))
    broker.enqueue(dramatiq.Message("opsmetrics", "noop", (), {}, {}), delay=60_000)
    WorkerQueueStat.objects.create(queue="opsmetrics", actor="boom", failed=2, retried=5)
    WorkerQueueStat.objects.create(queue="opsmetrics", actor="fine", processed=7)
    sid = "CA" + "7" * 32
    failing = callback_store(
        kind="status",
        params={"CallSid": sid, "CallStatus": "ringing", "SequenceNumber": "0"},
        call_sid=sid,
        sequence_number=0,
    )
    TwilioCallback.objects.filter(pk=failing.pk).update(attempts=1, last_error="nope")
    health.web_presence_save(process="web-metrics", by_company={acme.pk: 2, None: 1})
    if connection.vendor == "postgresql":
        EventOutbox.objects.all().delete()
        EventOutbox.objects.create(
            audience="user",
            topic="notifications",
            type="test.waiting",
            created_at=timezone.now() - timedelta(seconds=20),
        )

    with global_broker(broker):
        got = samples(client)

    q = (("queue", "opsmetrics"),)
    assert got[("hub_dramatiq_queue_depth", q)] == 3
    assert got[("hub_dramatiq_queue_delayed", q)] == 1
    assert got[("hub_dramatiq_queue_dead", q)] == 0
    boom = (("actor", "boom"), ("queue", "opsmetrics"))
    fine = (("actor", "fine"), ("queue", "opsmetrics"))
    assert got[("hub_dramatiq_messages_failed_total", boom)] == 2
    assert got[("hub_dramatiq_messages_retried_total", boom)] == 5
    assert got[("hub_dramatiq_messages_processed_total", fine)] == 7
    assert got[("hub_twilio_inbox_backlog", ())] == 1
    assert got[("hub_twilio_inbox_failed", ())] == 1
    assert got[("hub_ws_clients", (("company", str(acme.pk)),))] == 2
    assert got[("hub_ws_clients", (("company", "none"),))] == 1
    if connection.vendor == "postgresql":
        assert got[("hub_relay_backlog", ())] == 1
        assert 20 <= got[("hub_relay_lag_seconds", ())] < 60
    else:
        assert got[("hub_relay_backlog", ())] == 0
        assert got[("hub_relay_lag_seconds", ())] == 0


def test_a_broker_that_is_down_leaves_out_the_depths_only(client, caplog):
    down = RedisBroker(url="redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    down.declare_queue("opsmetrics")
    WorkerQueueStat.objects.create(queue="opsmetrics", actor="boom", failed=2)

    with global_broker(down):
        got = samples(client)

    names = {name for name, _ in got}
    assert not names & {
        "hub_dramatiq_queue_depth",
        "hub_dramatiq_queue_delayed",
        "hub_dramatiq_queue_dead",
    }
    boom = (("actor", "boom"), ("queue", "opsmetrics"))
    assert got[("hub_dramatiq_messages_failed_total", boom)] == 2
    assert ("hub_twilio_inbox_backlog", ()) in got
    skipped = [r for r in caplog.records if r.getMessage().startswith("metrics: skipped queues")]
    assert len(skipped) == 1
    assert skipped[0].exc_info is None  # one line, no traceback
