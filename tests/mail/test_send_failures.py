"""Sending's failures against the real aiosmtpd: retried, failed at once, never sent twice, and
never left "sending" for good (a bad address, an unexpected error, a try that never finished)."""

from __future__ import annotations

import logging
import socket
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from hub.domain.emails import tracking
from hub.domain.emails.delivery import (
    email_deliver,
    email_deliveries_stalled,
    email_delivery_retry,
    retry_delay,
)
from hub.domain.emails.hub_models import DeliveryState, EmailDelivery
from hub.domain.emails.models import Email, EmailStatus
from hub.domain.notifications.models import Notification
from tests.mail.send_fixtures import queue


def _due_now(email) -> None:
    """The retry's time has come (instead of waiting for it)."""
    EmailDelivery.objects.filter(email=email).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )


def _state(email) -> tuple[str, str, int]:
    email.refresh_from_db()
    delivery = EmailDelivery.objects.get(email=email)
    return email.status, delivery.state, delivery.attempts


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db
def test_a_451_is_retried_later_then_sent(imap_account, smtp_server):
    email = queue(imap_account)
    smtp_server.refuse("451 4.3.0 Try again later")

    first = email_deliver(email_id=email.id)

    assert (first.outcome, first.retry_in) == ("retry", retry_delay(1))
    assert "451 4.3.0 Try again later" in first.error
    assert _state(email) == (EmailStatus.QUEUED, DeliveryState.PENDING, 1)
    assert "451" in EmailDelivery.objects.get(email=email).last_error
    # Held until the retry is due: an early message (the sweep's, a duplicate) sends nothing.
    assert email_deliver(email_id=email.id).outcome == "skipped"
    assert email.id not in email_deliveries_stalled()

    _due_now(email)
    assert email_deliver(email_id=email.id).outcome == "sent"

    assert _state(email) == (EmailStatus.SENT, DeliveryState.SENT, 2)
    assert len(smtp_server.received) == 1
    assert not Notification.objects.exists()


def test_the_backoff_doubles():
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [15.0, 30.0, 60.0, 120.0]
    assert retry_delay(30) == 3600.0


@pytest.mark.django_db
def test_a_550_fails_at_once_with_the_reason_and_the_owner_is_told(
    imap_account, smtp_server, alice
):
    email = queue(imap_account)
    smtp_server.refuse("550 5.7.1 Message rejected as spam")

    result = email_deliver(email_id=email.id)

    assert result.outcome == "failed"
    assert _state(email) == (EmailStatus.FAILED, DeliveryState.FAILED, 1)
    reason = EmailDelivery.objects.get(email=email).last_error
    assert "550 5.7.1 Message rejected as spam" in reason
    assert smtp_server.received == []
    (told,) = Notification.objects.all()
    assert told.user == alice
    assert told.type == "error"
    assert "Quote for the rocket skates" in told.message and reason in told.message
    # Failed means done: a stray message sends nothing.
    assert email_deliver(email_id=email.id).outcome == "skipped"


@pytest.mark.django_db
def test_a_refused_login_fails_at_once_without_showing_the_password(
    imap_account, smtp_server, mailbox
):
    smtp_server.credentials[mailbox.address] = "not-the-password"
    email = queue(imap_account)

    result = email_deliver(email_id=email.id)

    assert result.outcome == "failed"
    reason = EmailDelivery.objects.get(email=email).last_error
    assert "refused the login" in reason and "535" in reason
    assert mailbox.password not in reason
    assert mailbox.password not in Notification.objects.get().message
    assert _state(email)[:2] == (EmailStatus.FAILED, DeliveryState.FAILED)


@pytest.mark.django_db
def test_a_server_that_is_down_is_retried_then_failed_after_the_last_try(imap_account, settings):
    settings.HUB_EMAIL_SEND_MAX_ATTEMPTS = 3
    imap_account.smtp_port = _closed_port()
    imap_account.save()
    email = queue(imap_account)

    outcomes = []
    for _ in range(3):
        result = email_deliver(email_id=email.id)
        outcomes.append((result.outcome, result.retry_in))
        _due_now(email)

    assert outcomes == [("retry", 15.0), ("retry", 30.0), ("failed", None)]
    assert _state(email) == (EmailStatus.FAILED, DeliveryState.FAILED, 3)
    reason = EmailDelivery.objects.get(email=email).last_error
    assert "refused the connection" in reason and "gave up after 3 tries" in reason
    assert email_deliver(email_id=email.id).outcome == "skipped"


@pytest.mark.django_db
def test_an_account_without_a_password_it_can_decrypt_fails_with_a_clear_reason(
    imap_account, settings
):
    from cryptography.fernet import Fernet

    email = queue(imap_account)
    settings.EMAIL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    assert email_deliver(email_id=email.id).outcome == "failed"
    reason = EmailDelivery.objects.get(email=email).last_error
    assert "cannot be decrypted" in reason and "Set the account's password again" in reason


@pytest.mark.django_db
def test_a_claimed_delivery_is_not_sent_by_another_worker(imap_account, smtp_server):
    email = queue(imap_account)
    EmailDelivery.objects.filter(email=email).update(
        state=DeliveryState.SENDING, claimed_until=timezone.now() + timedelta(minutes=5)
    )

    assert email_deliver(email_id=email.id).outcome == "skipped"
    assert smtp_server.received == []

    # A claim whose worker died expires: then the e-mail is taken again (and found stalled).
    EmailDelivery.objects.filter(email=email).update(
        claimed_until=timezone.now() - timedelta(minutes=2)
    )
    assert email_deliveries_stalled() == [email.id]
    assert email_deliver(email_id=email.id).outcome == "sent"
    assert len(smtp_server.received) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_it_once(imap_account, smtp_server):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite takes one writer at a time: two claims cannot race there")
    emails = [queue(imap_account, subject=f"Quote {n}") for n in range(5)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            for email in emails:
                barrier.wait(timeout=10)
                outcomes.append(email_deliver(email_id=email.id).outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["sent"] * 5 + ["skipped"] * 5
    subjects = sorted(r.message["Subject"] for r in smtp_server.wait_for(5))
    assert subjects == [f"Quote {n}" for n in range(5)]
    assert len(smtp_server.received) == 5
    assert set(EmailDelivery.objects.values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db
def test_the_sweep_finds_deliveries_whose_message_was_lost(imap_account):
    lost, recent, sent = queue(imap_account), queue(imap_account), queue(imap_account)
    a_while_ago = timezone.now() - timedelta(minutes=2)
    EmailDelivery.objects.filter(email__in=[lost, sent]).update(created_at=a_while_ago)
    EmailDelivery.objects.filter(email=sent).update(state=DeliveryState.SENT)

    assert email_deliveries_stalled() == [lost.id]
    assert recent.id not in email_deliveries_stalled()


@pytest.mark.django_db
def test_a_failed_email_can_be_sent_again(imap_account, smtp_server):
    email = queue(imap_account)
    smtp_server.refuse("554 5.0.0 No")
    assert email_deliver(email_id=email.id).outcome == "failed"

    email_delivery_retry(email=email)

    assert _state(email) == (EmailStatus.QUEUED, DeliveryState.PENDING, 0)
    assert email_deliver(email_id=email.id).outcome == "sent"
    with pytest.raises(Exception, match="has been sent already"):
        email_delivery_retry(email=email)


@pytest.mark.django_db
def test_an_email_of_an_account_switched_off_meanwhile_is_not_sent(imap_account, smtp_server):
    email = queue(imap_account)
    imap_account.is_active = False
    imap_account.save()

    assert email_deliver(email_id=email.id).outcome == "failed"

    assert EmailDelivery.objects.get(email=email).last_error == "The e-mail account is not active."
    assert smtp_server.received == []


# --- what used to leave a delivery "sending" for good -------------------------------------------


def _written_by_hand(email, **fields) -> None:
    """The row as the CRM, the admin or psql may leave it after it was queued."""
    Email.objects.filter(pk=email.pk).update(**fields)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("to", "reason"),
    [
        (["Bob Buyer <bob@x>"], "“Bob Buyer <bob@x>” is not a valid e-mail address."),
        ("bob@customer.test", "To must be a list of e-mail addresses, not “bob@customer.test”."),
        ([], "The e-mail has no recipient (To)."),
    ],
)
def test_a_bad_address_fails_at_once_with_the_reason(imap_account, smtp_server, alice, to, reason):
    email = queue(imap_account)
    _written_by_hand(email, to_emails=to)

    result = email_deliver(email_id=email.id)

    assert (result.outcome, result.error) == ("failed", reason)
    assert _state(email) == (EmailStatus.FAILED, DeliveryState.FAILED, 1)
    assert EmailDelivery.objects.get(email=email).last_error == reason
    assert reason in Notification.objects.get(user=alice).message
    assert smtp_server.received == []
    assert email.id not in email_deliveries_stalled()


@pytest.mark.django_db
def test_a_name_with_the_address_is_sent_to_the_address(imap_account, smtp_server):
    email = queue(imap_account)
    _written_by_hand(email, to_emails=["Bob Buyer <bob@customer.test>"], cc_emails=["ann@x.test"])

    assert email_deliver(email_id=email.id).outcome == "sent"

    (received,) = smtp_server.wait_for(1)
    assert sorted(received.rcpt_tos) == ["ann@x.test", "bob@customer.test"]
    assert received.message["To"] == "bob@customer.test"


@pytest.mark.django_db
def test_an_unexpected_error_is_logged_and_retried_then_failed_at_the_maximum(
    imap_account, smtp_server, settings, monkeypatch, caplog
):
    settings.HUB_EMAIL_SEND_MAX_ATTEMPTS = 2
    settings.HUB_PUBLIC_URL = "https://hub.acme.test"
    email = queue(imap_account, body_html='<p><a href="https://acme.test/quote">Quote</a></p>')

    def broken(*args, **kwargs):
        raise RuntimeError("the tracking rewrite broke")

    monkeypatch.setattr(tracking, "html_tracked", broken)
    caplog.set_level(logging.ERROR, logger="hub.domain.emails.delivery")

    first = email_deliver(email_id=email.id)

    reason = "Sending stopped on an internal error (RuntimeError)."
    assert (first.outcome, first.error) == ("retry", reason)
    assert _state(email) == (EmailStatus.QUEUED, DeliveryState.PENDING, 1)
    [logged] = [r for r in caplog.records if r.exc_info]
    assert "the tracking rewrite broke" in str(logged.exc_info[1])
    _due_now(email)
    last = email_deliver(email_id=email.id)
    assert (last.outcome, last.error) == ("failed", f"{reason} (gave up after 2 tries)")
    assert _state(email) == (EmailStatus.FAILED, DeliveryState.FAILED, 2)
    assert smtp_server.received == []

    # Mended, and sent again by hand: it goes.
    monkeypatch.undo()
    email_delivery_retry(email=email)
    assert email_deliver(email_id=email.id).outcome == "sent"
    assert len(smtp_server.wait_for(1)) == 1


@pytest.mark.django_db
def test_a_delivery_whose_last_try_never_finished_is_failed_not_claimed_again(
    imap_account, smtp_server, settings, alice
):
    settings.HUB_EMAIL_SEND_MAX_ATTEMPTS = 3
    email = queue(imap_account)
    # The worker of the third try was killed mid-send: its claim ran out, the row says sending.
    EmailDelivery.objects.filter(email=email).update(
        state=DeliveryState.SENDING,
        attempts=3,
        claimed_until=timezone.now() - timedelta(minutes=2),
        last_error="451 4.3.0 Try again later",
    )
    assert email_deliveries_stalled() == [email.id]

    result = email_deliver(email_id=email.id)

    assert result.outcome == "failed"
    assert result.error == (
        "Gave up after 3 tries: the last did not finish. Before that: 451 4.3.0 Try again later"
    )
    assert _state(email) == (EmailStatus.FAILED, DeliveryState.FAILED, 3)
    assert smtp_server.received == []
    assert Notification.objects.filter(user=alice).count() == 1
    assert email_deliveries_stalled() == []
    assert email_deliver(email_id=email.id).outcome == "skipped"
