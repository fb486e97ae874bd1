"""The send actors on a real Dramatiq worker (stub broker) and the real aiosmtpd."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from hub.domain.emails.hub_models import DeliveryState, EmailDelivery
from hub.domain.emails.models import EmailStatus
from hub.workers import mail_send
from tests.mail import send_fixtures
from tests.mail.send_fixtures import queue

# This module's fixtures (pytest finds them by these names).
send_worker = send_fixtures.send_worker
quick_retries = send_fixtures.quick_retries

pytestmark = pytest.mark.django_db(transaction=True)


def _queue_committed(account, **fields):
    with transaction.atomic():
        return queue(account, **fields)


def test_a_queued_email_is_sent_by_the_worker_after_commit(imap_account, smtp_server, send_worker):
    email = _queue_committed(imap_account)
    assert send_worker.queued() == 1

    with send_worker.running():
        send_worker.join()

    (received,) = smtp_server.wait_for(1)
    assert received.message["Message-ID"] == email.message_id
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT


def test_nothing_is_enqueued_when_the_transaction_rolls_back(imap_account, send_worker):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue(imap_account)
        raise RuntimeError("rolled back")

    assert send_worker.queued() == 0
    assert not EmailDelivery.objects.exists()


def test_a_temporary_refusal_is_sent_again_after_the_backoff(
    imap_account, smtp_server, send_worker, quick_retries
):
    smtp_server.refuse("451 4.3.0 Try again later", "421 4.7.0 Busy")
    email = _queue_committed(imap_account)

    with send_worker.running():
        send_worker.join()
        smtp_server.wait_for(1)

    email.refresh_from_db()
    delivery = EmailDelivery.objects.get(email=email)
    assert (email.status, delivery.state, delivery.attempts) == (
        EmailStatus.SENT,
        DeliveryState.SENT,
        3,
    )
    assert len(smtp_server.received) == 1


def test_retries_end_in_failed_after_the_last_try(
    imap_account, smtp_server, send_worker, quick_retries, settings
):
    settings.HUB_EMAIL_SEND_MAX_ATTEMPTS = 2
    smtp_server.refuse("451 4.3.0 Later", "451 4.3.0 Later again", "451 4.3.0 Never")
    email = _queue_committed(imap_account)

    with send_worker.running():
        send_worker.join()

    email.refresh_from_db()
    delivery = EmailDelivery.objects.get(email=email)
    assert (email.status, delivery.state, delivery.attempts) == (
        EmailStatus.FAILED,
        DeliveryState.FAILED,
        2,
    )
    assert "451 4.3.0 Later again" in delivery.last_error
    assert smtp_server.received == []


def test_the_sweep_sends_an_email_whose_message_was_lost(imap_account, smtp_server, send_worker):
    email = _queue_committed(imap_account)
    send_worker.broker.flush_all()  # the message is lost
    EmailDelivery.objects.filter(email=email).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )

    mail_send.mail_send_sweep.send()
    with send_worker.running():
        send_worker.join()

    smtp_server.wait_for(1)
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT


def test_the_sweep_sends_what_the_crm_queued_once_and_leaves_old_rows_alone(
    imap_account, smtp_server, send_worker
):
    from tests.factories import EmailFactory

    # The CRM writes queued outbound rows itself: no delivery row, no message on the broker.
    crm = EmailFactory(
        email_account=imap_account,
        direction="outbound",
        status=EmailStatus.QUEUED,
        to_emails=["buyer@client.test"],
        subject="Quote from the CRM",
        body_text="Here is the quote.",
    )
    old = EmailFactory(
        email_account=imap_account,
        direction="outbound",
        status=EmailStatus.QUEUED,
        to_emails=["buyer@client.test"],
        subject="Queued before the hub sent mail",
    )
    type(old).objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))

    for _ in range(2):  # a second sweep finds nothing more to do
        mail_send.mail_send_sweep.send()
        with send_worker.running():
            send_worker.join()

    (received,) = smtp_server.wait_for(1)
    assert received.message["Subject"] == "Quote from the CRM"
    assert received.rcpt_tos == ["buyer@client.test"]
    crm.refresh_from_db()
    old.refresh_from_db()
    assert crm.status == EmailStatus.SENT
    assert old.status == EmailStatus.QUEUED and not EmailDelivery.objects.filter(email=old).exists()
