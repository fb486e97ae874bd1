"""Delivering a queued e-mail over SMTP: claim it, send it, retry it or fail it.

:func:`email_deliver` claims the delivery with one conditional UPDATE, so two workers never
send the same e-mail at once, and sends it through ``hub/integrations/mail/smtp.py``. A
temporary refusal (4xx, a refused or timed-out connection) or an unexpected error (logged with
its traceback) is tried again after a delay that doubles from ``RETRY_BACKOFF_SECONDS``, up to
``HUB_EMAIL_SEND_MAX_ATTEMPTS`` tries; a permanent one (5xx, a refused login, an address that
is not one, a server without TLS) fails at once. A delivery whose tries are used up is failed
whatever stopped the last one, even a worker killed mid-send. Either way the reason is kept in
``EmailDelivery.last_error`` and the account's owner is told. Once sent, the company's
``email_sent`` rules run. A delivery whose message was lost (a broker restart, a worker
killed mid-send) is found by :func:`email_deliveries_stalled`, which also adopts what the CRM
or the admin queued (prepared as the hub's own mail, sending.py).

SMTP has no idempotency: a worker that dies after the server took the message and before it
is marked sent leaves its claim to expire, and the e-mail is sent again. Both copies carry
the same Message-ID, which receiving servers and mail clients use to drop the duplicate.

Queuing is in sending.py, apart from this module: the rules send mail (they import
sending.py) and run when mail is sent (this module imports them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from hub.domain.emails import tracking
from hub.domain.emails.crypto import CredentialError
from hub.domain.emails.hub_models import DeliveryState, EmailDelivery
from hub.domain.emails.models import Direction, Email, EmailStatus
from hub.domain.emails.rules import rules_run
from hub.domain.emails.sending import (
    email_addresses_clean,
    email_queued_adopt,
    email_send_on_commit,
)
from hub.domain.emails.services import email_account_smtp_server
from hub.domain.notifications.models import NotificationType
from hub.domain.notifications.services import notification_create
from hub.integrations.mail.smtp import OutgoingMail, SmtpError, smtp_send

logger = logging.getLogger(__name__)

# The first retry waits this long, each next one twice as long (tests make it short).
RETRY_BACKOFF_SECONDS = 15.0
RETRY_BACKOFF_MAX_SECONDS = 3600.0
# A delivery untouched this long after its message was due is taken to be lost.
STALLED_AFTER = timedelta(minutes=1)
# Queued outbound e-mails written by someone else (the CRM, the admin, psql) have no delivery
# row: the sweep adopts the ones queued within this long (older ones predate the hub sending).
ADOPT_WITHIN = timedelta(days=1)


@dataclass(frozen=True)
class DeliveryResult:
    """What a delivery attempt came to: ``sent``, ``retry`` (in ``retry_in`` seconds),
    ``failed``, or ``skipped`` (another worker has it, or it is done)."""

    outcome: str
    retry_in: float | None = None
    error: str = ""


def claim_seconds() -> float:
    """How long a claim holds: an SMTP conversation's few commands, each within the timeout."""
    return max(60.0, settings.HUB_EMAIL_SMTP_TIMEOUT_SECONDS * 10)


@dataclass(frozen=True)
class _Claim:
    attempts: int
    exhausted: bool  # its tries were used up: it is failed, not sent


def _claim(email_id: int) -> _Claim | None:
    now = timezone.now()
    maximum = settings.HUB_EMAIL_SEND_MAX_ATTEMPTS
    free = EmailDelivery.objects.filter(
        pk=email_id, state__in=[DeliveryState.PENDING, DeliveryState.SENDING]
    ).filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
    until = now + timedelta(seconds=claim_seconds())
    claimed = free.filter(attempts__lt=maximum).update(
        state=DeliveryState.SENDING,
        claimed_until=until,
        attempts=F("attempts") + 1,
        last_attempt_at=now,
    )
    # Tries used up (the last one's worker died, or the maximum was lowered): claimed to fail.
    exhausted = not claimed and free.filter(attempts__gte=maximum).update(claimed_until=until)
    if not (claimed or exhausted):
        return None
    attempts = EmailDelivery.objects.values_list("attempts", flat=True).get(pk=email_id)
    return _Claim(attempts=attempts, exhausted=bool(exhausted))


def email_deliver(*, email_id: int) -> DeliveryResult:
    """Claim and send one queued e-mail; run the ``email_sent`` rules once it is sent.

    Call it outside a transaction: the claim must be seen by other workers at once, and the
    SMTP conversation must not hold one open.
    """
    claim = _claim(email_id)
    if claim is None:
        return DeliveryResult("skipped")
    email = Email.objects.select_related("email_account__user").get(pk=email_id)
    attempts = claim.attempts
    if claim.exhausted:
        last = EmailDelivery.objects.values_list("last_error", flat=True).get(pk=email_id)
        before = f" Before that: {last}" if last else ""
        return _failed(email, f"Gave up after {attempts} tries: the last did not finish.{before}")
    try:
        problem = _unsendable(email)
        if problem:
            return _failed(email, problem)
        refused = smtp_send(
            server=email_account_smtp_server(email.email_account), mail=_outgoing(email)
        )
    except SmtpError as error:
        if error.permanent:
            return _failed(email, str(error))
        return _temporary(email, str(error), attempts)
    except CredentialError as error:
        return _failed(email, f"{error} Set the account's password again.")
    except Exception as error:
        # Whatever it is, the delivery must not stay "sending": it counts as a try.
        logger.exception("e-mail %s: sending stopped on an internal error", email_id)
        reason = f"Sending stopped on an internal error ({type(error).__name__})."
        return _temporary(email, reason, attempts)
    return _sent(email, refused)


def _temporary(email: Email, reason: str, attempts: int) -> DeliveryResult:
    if attempts >= settings.HUB_EMAIL_SEND_MAX_ATTEMPTS:
        return _failed(email, f"{reason} (gave up after {attempts} tries)")
    return _retry_later(email, reason, attempts)


def _unsendable(email: Email) -> str:
    account = email.email_account
    if email.direction != Direction.OUTBOUND or email.status not in (
        EmailStatus.QUEUED,
        EmailStatus.FAILED,
    ):
        return f"The e-mail is not queued for sending (it is {email.status})."
    if not account.is_active:
        return "The e-mail account is not active."
    if not account.smtp_host:
        return "The e-mail account has no SMTP server."
    try:
        _recipients(email)
    except ValidationError as error:
        return " ".join(error.messages)
    return ""


def _recipients(email: Email) -> tuple[list[str], list[str], list[str]]:
    """Its plain addresses (a row written by hand may say "Ann <ann@x.test>")."""
    to = email_addresses_clean("to_emails", email.to_emails)
    if not to:
        raise ValidationError("The e-mail has no recipient (To).")
    cc = email_addresses_clean("cc_emails", email.cc_emails)
    return to, cc, email_addresses_clean("bcc_emails", email.bcc_emails)


def _outgoing(email: Email) -> OutgoingMail:
    html = email.body_html
    if html and email.tracking_enabled and tracking.tracking_available():
        links = tracking.email_links(email_id=email.pk)
        html = tracking.html_tracked(html, email_id=email.pk, links=links)
    to, cc, bcc = _recipients(email)
    return OutgoingMail(
        sender=email.from_email,
        sender_name=email.from_name,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=email.subject,
        message_id=email.message_id,
        date=timezone.now(),
        text=email.body_text,
        html=html,
        in_reply_to=email.in_reply_to,
        references=email.references,
    )


def _sent(email: Email, refused: dict[str, str]) -> DeliveryResult:
    now = timezone.now()
    note = ""
    if refused:
        note = "Not delivered to: " + "; ".join(f"{r} ({reply})" for r, reply in refused.items())
    with transaction.atomic():
        Email.objects.filter(pk=email.pk).update(status=EmailStatus.SENT, sent_at=now)
        EmailDelivery.objects.filter(pk=email.pk).update(
            state=DeliveryState.SENT, claimed_until=None, last_error=note
        )
    email.status, email.sent_at = EmailStatus.SENT, now
    try:
        # rules_run never raises by contract; the e-mail is sent whatever happens here.
        rules_run(trigger="email_sent", company_id=email.email_account.company_id, email=email)
    except Exception:
        logger.exception("email_sent rules failed for e-mail %s", email.pk)
    return DeliveryResult("sent", error=note)


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` tries: doubling from the first delay."""
    return min(RETRY_BACKOFF_SECONDS * 2 ** max(0, attempts - 1), RETRY_BACKOFF_MAX_SECONDS)


def _retry_later(email: Email, reason: str, attempts: int) -> DeliveryResult:
    delay = retry_delay(attempts)
    # Held until the retry is due, so the sweep does not send it again meanwhile.
    EmailDelivery.objects.filter(pk=email.pk).update(
        state=DeliveryState.PENDING,
        claimed_until=timezone.now() + timedelta(seconds=delay),
        last_error=reason,
    )
    logger.warning(
        "e-mail %s not sent, try %s, again in %.0f s: %s", email.pk, attempts, delay, reason
    )
    return DeliveryResult("retry", retry_in=delay, error=reason)


def _failed(email: Email, reason: str) -> DeliveryResult:
    with transaction.atomic():
        Email.objects.filter(pk=email.pk).update(status=EmailStatus.FAILED)
        EmailDelivery.objects.filter(pk=email.pk).update(
            state=DeliveryState.FAILED, claimed_until=None, last_error=reason
        )
        notification_create(
            user=email.email_account.user,
            title=f"E-mail not sent: {email.subject}"[:255],
            message=f"Your e-mail “{email.subject}” to {_shown(email.to_emails)} "
            f"could not be sent. {reason}",
            type=NotificationType.ERROR,
            related_object_type="email",
        )
    logger.warning("e-mail %s failed: %s", email.pk, reason)
    return DeliveryResult("failed", error=reason)


def _shown(addresses: object) -> str:
    if isinstance(addresses, list | tuple):
        return ", ".join(str(a) for a in addresses)
    return str(addresses or "")


def email_deliveries_adopt(*, limit: int = 500) -> list[int]:
    """Take over each recent queued outbound e-mail that has no delivery row (the CRM or the
    admin queued it): prepared as the hub's own mail and given its delivery row. Returns the
    ids to send now; one that cannot be prepared (a bad address) is failed with the reason."""
    since = timezone.now() - ADOPT_WITHIN
    found = (
        Email.objects.filter(
            direction=Direction.OUTBOUND,
            status=EmailStatus.QUEUED,
            delivery__isnull=True,
            created_at__gte=since,
        )
        .select_related("email_account__user", "thread", "reply_to")
        .order_by("pk")[:limit]
    )
    adopted = []
    for email in found:
        try:
            if email_queued_adopt(email=email, enqueue=False):
                adopted.append(email.pk)
        except ValidationError as error:
            _unprepared(email, " ".join(error.messages))
        except Exception as error:
            # One row must not stop the others' adoption on every sweep.
            logger.exception("e-mail %s could not be prepared for sending", email.pk)
            _unprepared(
                email, f"preparing it stopped on an internal error ({type(error).__name__})."
            )
    return adopted


def _unprepared(email: Email, reason: str) -> None:
    with transaction.atomic():
        _, created = EmailDelivery.objects.get_or_create(
            email=email, defaults={"state": DeliveryState.SENDING}
        )
        if created:
            _failed(email, f"The e-mail cannot be sent: {reason}")


def email_deliveries_stalled(*, limit: int = 500) -> list[int]:
    """E-mails to send from the sweep: queued by someone else (adopted now), or whose send
    message seems lost (due a minute ago or more and not claimed)."""
    adopted = email_deliveries_adopt(limit=limit)
    cutoff = timezone.now() - STALLED_AFTER
    return adopted + list(
        EmailDelivery.objects.filter(state__in=[DeliveryState.PENDING, DeliveryState.SENDING])
        .filter(Q(claimed_until__isnull=True, created_at__lt=cutoff) | Q(claimed_until__lt=cutoff))
        .order_by("created_at")
        .values_list("email_id", flat=True)[:limit]
    )


@transaction.atomic
def email_delivery_retry(*, email: Email) -> EmailDelivery:
    """Send a failed (or never sent) outbound e-mail again, with a fresh count of tries."""
    if email.direction != Direction.OUTBOUND:
        raise ValidationError("Only an outbound e-mail can be sent.")
    delivery, _ = EmailDelivery.objects.select_for_update().get_or_create(email=email)
    if delivery.state == DeliveryState.SENT:
        raise ValidationError("This e-mail has been sent already.")
    if delivery.state == DeliveryState.SENDING and _claim_active(delivery):
        raise ValidationError("This e-mail is being sent right now.")
    delivery.state = DeliveryState.PENDING
    delivery.attempts = 0
    delivery.claimed_until = None
    delivery.save(update_fields=["state", "attempts", "claimed_until"])
    Email.objects.filter(pk=email.pk).update(status=EmailStatus.QUEUED)
    email_send_on_commit(email.pk)
    return delivery


def _claim_active(delivery: EmailDelivery) -> bool:
    return delivery.claimed_until is not None and delivery.claimed_until > timezone.now()
