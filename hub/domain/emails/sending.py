"""Queuing outbound e-mail: render the template, check the addresses, store it ``queued``.

:func:`email_send_queue` stores the e-mail with its delivery row and tracked links, and once
the transaction commits asks the send actor (``hub/workers/mail_send.py``, which connects
itself with :func:`email_send_connect`) to deliver it (delivery.py). Without a connected
actor (a process that never imported it) the sweep sends it a minute later.

The stored ``body_html`` is what the user wrote; the copy sent has its links through the
click redirect and the open pixel (tracking.py), so the sender's own views count nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from email.utils import make_msgid
from html import unescape
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.text import normalize_newlines

from hub.domain.emails import tracking
from hub.domain.emails.hub_models import DeliveryState, EmailDelivery, EmailThreadRef
from hub.domain.emails.linking import thread_crm_link
from hub.domain.emails.models import (
    Direction,
    Email,
    EmailAccount,
    EmailStatus,
    EmailTemplate,
    EmailThread,
)
from hub.domain.emails.services import email_store, email_thread_create
from hub.domain.emails.templates import (
    email_template_context,
    email_template_render,
    template_variables_missing,
)

logger = logging.getLogger(__name__)

_MESSAGE_ID_CHARS = 255

# Called with an e-mail's id after the transaction that queued it commits.
_enqueue_hooks: list[Callable[[int], None]] = []


def email_send_connect(enqueue: Callable[[int], None]) -> None:
    """Have ``enqueue(email_id)`` called for each e-mail queued, once its transaction commits."""
    if enqueue not in _enqueue_hooks:
        _enqueue_hooks.append(enqueue)


def _enqueue_on_commit(email_id: int) -> None:
    def enqueue() -> None:
        if not _enqueue_hooks:
            logger.warning("no send actor in this process: e-mail %s waits for the sweep", email_id)
        for hook in _enqueue_hooks:
            hook(email_id)

    # robust: the e-mail is stored either way; a broker that is down leaves it to the sweep.
    transaction.on_commit(enqueue, robust=True)


# --- queuing ------------------------------------------------------------------------------


def _addresses(field: str, given: list[str] | None) -> list[str]:
    addresses = []
    for raw in given or []:
        address = (raw or "").strip()
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError({field: f"“{address}” is not a valid e-mail address."}) from None
        addresses.append(address)
    return list(dict.fromkeys(addresses))


def _one_line(text: str) -> str:
    return " ".join((text or "").split())


_BREAKS = re.compile(r"<br\s*/?>|</(?:p|div|li|tr|h[1-6]|blockquote|table)\s*>", re.IGNORECASE)
_INVISIBLE = re.compile(r"<(style|script|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def html_to_text(html: str) -> str:
    """A plain-text rendering of an HTML body, for its text part."""
    text = _INVISIBLE.sub("", normalize_newlines(html or ""))
    text = strip_tags(_BREAKS.sub(lambda m: m.group(0) + "\n", text))
    lines = (" ".join(line.split()) for line in unescape(text).split("\n"))
    return "\n".join(line for line in lines if line).strip()


def _new_message_id(account: EmailAccount) -> str:
    domain = account.email.rpartition("@")[2] or "hub.invalid"
    message_id = make_msgid(domain=domain)
    return message_id if len(message_id) <= _MESSAGE_ID_CHARS else make_msgid(domain="hub.invalid")


def _check_related(
    account: EmailAccount,
    thread: EmailThread | None,
    reply_to: Email | None,
    template: EmailTemplate | None,
) -> None:
    if not account.is_active:
        raise ValidationError({"account": "The e-mail account is not active."})
    if not account.smtp_host:
        raise ValidationError({"account": "The e-mail account has no SMTP server."})
    if reply_to is not None and reply_to.email_account_id != account.pk:
        raise ValidationError({"reply_to": "The e-mail replied to belongs to another account."})
    if thread is not None and thread.email_account_id != account.pk:
        raise ValidationError({"thread": "The thread belongs to another account."})
    if template is not None and template.company_id != account.company_id:
        raise ValidationError({"template": "The template belongs to another company."})
    if template is not None and not template.is_active:
        raise ValidationError({"template": f"The template “{template.name}” is not active."})


def _render(
    template: EmailTemplate,
    account: EmailAccount,
    thread: EmailThread | None,
    reply_to: Email | None,
    context: dict[str, Any] | None,
) -> dict[str, str]:
    values = email_template_context(
        account=account, thread=thread, reply_to=reply_to, context=context
    )
    rendered = email_template_render(template=template, context=values)
    missing = template_variables_missing(rendered)
    if missing:
        names = ", ".join(f"{{{{{name}}}}}" for name in missing)
        raise ValidationError(
            {"template": f"The template “{template.name}” needs a value for {names}."}
        )
    EmailTemplate.objects.filter(pk=template.pk).update(usage_count=F("usage_count") + 1)
    return rendered


def _thread_join(thread: EmailThread, participants: list[str], now: datetime) -> None:
    known = [p.lower() for p in thread.participants or []]
    thread.participants = list(dict.fromkeys([*known, *participants]))
    thread.last_message_at = max(thread.last_message_at, now)
    thread.save(update_fields=["participants", "last_message_at"])


def _refs_store(account: EmailAccount, thread: EmailThread, ids: list[str]) -> None:
    EmailThreadRef.objects.bulk_create(
        [EmailThreadRef(account=account, message_id=i, thread=thread) for i in ids if i],
        ignore_conflicts=True,
    )


def _content(
    subject: str,
    body_text: str,
    body_html: str,
    template: EmailTemplate | None,
    account: EmailAccount,
    thread: EmailThread,
    reply_to: Email | None,
    context: dict[str, Any] | None,
) -> tuple[str, str, str]:
    """The subject, text and HTML: as given, else the template's, else (subject) "Re: …"."""
    if template is not None:
        rendered = _render(template, account, thread, reply_to, context)
        subject = subject or rendered["subject"]
        body_html = body_html or rendered["body_html"]
        body_text = body_text or rendered["body_text"]
    subject = _one_line(subject)
    if not subject and reply_to is not None:
        parent = reply_to.subject
        subject = parent if parent.lower().startswith("re:") else f"Re: {parent}"
    if not subject:
        raise ValidationError({"subject": "An e-mail needs a subject."})
    body_text = body_text or html_to_text(body_html)
    if not body_text.strip():
        raise ValidationError({"body_text": "An e-mail needs some text."})
    return subject, body_text, body_html


@transaction.atomic
def email_send_queue(
    *,
    account: EmailAccount,
    to: list[str],
    subject: str,
    body_text: str = "",
    body_html: str = "",
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    reply_to: Email | None = None,
    template: EmailTemplate | None = None,
    context: dict[str, Any] | None = None,
    created_by=None,
    thread: EmailThread | None = None,
    track: bool = True,
) -> Email:
    """Queue an e-mail from ``account``; it is sent once this transaction commits.

    With a ``template``, its rendering fills the subject and bodies not given (a template
    that leaves a variable unfilled is refused). ``reply_to`` makes it a reply in that
    e-mail's thread, with ``In-Reply-To`` and ``References``.
    """
    _check_related(account, thread, reply_to, template)
    to, cc, bcc = _addresses("to", to), _addresses("cc", cc), _addresses("bcc", bcc)
    if not to:
        raise ValidationError({"to": "An e-mail needs at least one recipient."})
    if thread is None and reply_to is not None:
        thread = reply_to.thread
    # The thread first: its CRM links fill the template's deal and customer.
    now = timezone.now()
    participants = [a.lower() for a in [account.email, *to, *cc]]
    new_thread = thread is None
    if thread is None:
        thread = email_thread_create(
            account=account,
            subject=_one_line(subject) or "…",  # the subject is settled below
            participants=participants,
            last_message_at=now,
        )
    else:
        _thread_join(thread, participants, now)
    thread_crm_link(thread)
    subject, body_text, body_html = _content(
        subject, body_text, body_html, template, account, thread, reply_to, context
    )
    if new_thread and thread.subject != subject[:500]:
        thread.subject = subject[:500]
        thread.save(update_fields=["subject"])
    in_reply_to = references = None
    if reply_to is not None:
        in_reply_to = reply_to.message_id
        references = " ".join([*(reply_to.references or "").split(), reply_to.message_id])
    track = track and tracking.tracking_available()
    email = email_store(
        account=account,
        thread=thread,
        message_id=_new_message_id(account),
        from_email=account.email,
        from_name=_sender_name(account),
        to_emails=to,
        cc_emails=cc or None,
        bcc_emails=bcc or None,
        subject=subject[:500],
        body_text=body_text,
        body_html=body_html,
        direction=Direction.OUTBOUND,
        status=EmailStatus.QUEUED,
        is_read=True,
        tracking_enabled=track,
        reply_to=reply_to,
        created_by=created_by,
        in_reply_to=in_reply_to,
        references=references,
    )
    _refs_store(account, thread, [email.message_id, *(references or "").split()])
    EmailDelivery.objects.create(email=email)
    if track and body_html:
        tracking.email_links_create(email=email)
    _enqueue_on_commit(email.pk)
    return email


def _sender_name(account: EmailAccount) -> str:
    user = account.user
    name = user.get_full_name()
    return "" if name == user.email else name


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
    _enqueue_on_commit(email.pk)
    return delivery


def _claim_active(delivery: EmailDelivery) -> bool:
    return delivery.claimed_until is not None and delivery.claimed_until > timezone.now()
