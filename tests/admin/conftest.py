"""Admin fixtures: one row of every table for Acme (alice, bob) and for Globex (charlie)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.utils import timezone

from hub.domain.events.models import Event, EventOutbox, RelayCursor
from hub.integrations.slack.models import SlackEventReceipt
from hub.integrations.twilio.inbox import callback_store
from hub.ops.models import SchedulerRun, WebPresence, WorkerQueueStat
from tests import factories
from tests.admin.helpers import tenant_rows


@pytest.fixture(autouse=True)
def encryption_key(settings):
    settings.EMAIL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]


@pytest.fixture
def acme_rows(acme, alice, bob):
    return tenant_rows(acme, alice, "Acme")


@pytest.fixture
def globex_rows(globex, charlie):
    return tenant_rows(globex, charlie, "Globex")


@pytest.fixture
def hub_rows(db):
    event = Event.objects.create(
        company_id=None, audience="user", user_id=None, topic="notifications", type="test.event"
    )
    return {
        "event": event,
        "cursor": RelayCursor.objects.create(name="admin-test", last_event_id=event.id),
        # Triggers fill the outbox on PostgreSQL; SQLite has none, so one row by hand.
        "outbox": EventOutbox.objects.create(
            audience="user", topic="notifications", type="test.event", created_at=timezone.now()
        ),
        "twilio_callback": callback_store(
            kind="status",
            params={"CallSid": "CA" + "0" * 32, "CallStatus": "ringing", "SequenceNumber": "0"},
            call_sid="CA" + "0" * 32,
            sequence_number=0,
        ),
        "slack_event_receipt": SlackEventReceipt.objects.create(
            event_id="Ev0ADMIN01", team_id="TADMIN01", event_type="app_home_opened"
        ),
        "worker_queue_stat": WorkerQueueStat.objects.create(
            queue="default", actor="calls_reconcile", processed=3, failed=1, retried=2
        ),
        "scheduler_run": SchedulerRun.objects.create(
            job="hub.workers.calls.calls_reconcile", last_run=timezone.now(), last_outcome="ok"
        ),
        "web_presence": WebPresence.objects.create(
            process="web-admin-test", by_company={"none": 1}, updated_at=timezone.now()
        ),
    }


@pytest.fixture
def superuser(db):
    return factories.UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def superuser_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def staff_bob(bob):
    bob.is_staff = True
    bob.save(update_fields=["is_staff"])
    return bob


@pytest.fixture
def bob_client(client, staff_bob):
    client.force_login(staff_bob)
    return client
