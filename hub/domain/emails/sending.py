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
from hub.domain.emails.hub_models import EmailDelivery, EmailThreadRef
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


def email_send_on_commit(email_id: int) -> None:
    def enqueue() -> None:
        if not _enqueue_hooks:
            logger.warning("no send actor in this process: e-mail %s waits for the sweep", email_id)
        for hook in _enqueue_hooks:
            hook(email_id)

    # robust: the e-mail is stored either way; a broker that is down leaves it to the sweep.
    transaction.on_commit(enqueue, robust=True)


# --- addresses ------------------------------------------------------------------------------

_LABELS = {"to_emails": "To", "cc_emails": "Cc", "bcc_emails": "Bcc"}
# "Ann Lee <ann@example.com>" or "\"Lee, Ann\" <ann@example.com>": the name is dropped.
_NAMED = re.compile(r'(?:"(?:[^"\\]|\\.)*"|[^"<>@,;]*?)\s*<(?P<addr>[^<>\s]*)>')
_MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")


def _plain_address(raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    named = _NAMED.fullmatch(text)
    address = named.group("addr") if named else text
    try:
        validate_email(address)
    except ValidationError:
        return None
    return address


def email_addresses_clean(field: str, given: object) -> list[str]:
    """The plain addresses of ``given``, a list ("Ann <ann@x.test>" becomes "ann@x.test"), each
    once; raises ValidationError on ``field`` naming the first entry that is not an address."""
    if given is None:
        return []
    label = _LABELS.get(field, field.capitalize())
    if isinstance(given, str) or not isinstance(given, list | tuple):
        raise ValidationError(
            {field: f"{label} must be a list of e-mail addresses, not “{_one_line(str(given))}”."}
        )
    addresses = []
    for raw in given:
        address = _plain_address(raw)
        if address is None:
            shown = _one_line(raw) if isinstance(raw, str) else repr(raw)
            raise ValidationError({field: f"“{shown}” is not a valid e-mail address."})
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


def _reply_headers(reply_to: Email | None) -> tuple[str | None, str | None]:
    """``In-Reply-To`` and ``References`` of a reply to ``reply_to``."""
    if reply_to is None:
        return None, None
    references = " ".join([*(reply_to.references or "").split(), reply_to.message_id])
    return reply_to.message_id, references


def _cited(in_reply_to: str | None, references: str | None) -> list[str]:
    """The ids that may name the parent's thread, strongest first (as threads.py reads them)."""
    ids = [in_reply_to] if in_reply_to else []
    return list(dict.fromkeys([*ids, *reversed((references or "").split())]))


def _thread_place(
    account: EmailAccount,
    *,
    thread: EmailThread | None,
    reply_to: Email | None,
    cited: list[str],
    subject: str,
    participants: list[str],
    at: datetime,
) -> tuple[EmailThread, bool]:
    """The thread an outbound e-mail joins: the one given, its parent's, the one that carries
    an id it cites, else a new one (then the bool is true). Joined, and linked to the CRM."""
    if thread is None and reply_to is not None:
        thread = reply_to.thread
    if thread is None and cited:
        known = dict(
            EmailThreadRef.objects.filter(account=account, message_id__in=cited).values_list(
                "message_id", "thread_id"
            )
        )
        thread_id = next((known[i] for i in cited if i in known), None)
        if thread_id is not None:
            thread = EmailThread.objects.filter(pk=thread_id, email_account=account).first()
    new = thread is None
    if thread is None:
        thread = email_thread_create(
            account=account, subject=subject, participants=participants, last_message_at=at
        )
    else:
        _thread_join(thread, participants, at)
    thread_crm_link(thread)
    return thread, new


def _outbound_index(email: Email, thread: EmailThread) -> None:
    """Record the ids the e-mail carries and cites on its thread (a reply to it joins the
    thread), and its links for click tracking."""
    ids = [email.message_id, email.in_reply_to or "", *(email.references or "").split()]
    EmailThreadRef.objects.bulk_create(
        [
            EmailThreadRef(account_id=email.email_account_id, message_id=i, thread=thread)
            for i in dict.fromkeys(ids)
            if i
        ],
        ignore_conflicts=True,
    )
    if email.tracking_enabled and email.body_html and tracking.tracking_available():
        tracking.email_links_create(email=email)


def _reply_subject(reply_to: Email) -> str:
    parent = _one_line(reply_to.subject)
    return parent if parent.lower().startswith("re:") else f"Re: {parent}"


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
        subject = _reply_subject(reply_to)
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
    to = email_addresses_clean("to", to)
    cc, bcc = email_addresses_clean("cc", cc), email_addresses_clean("bcc", bcc)
    if not to:
        raise ValidationError({"to": "An e-mail needs at least one recipient."})
    # The thread first: its CRM links fill the template's deal and customer.
    now = timezone.now()
    in_reply_to, references = _reply_headers(reply_to)
    thread, new_thread = _thread_place(
        account,
        thread=thread,
        reply_to=reply_to,
        cited=_cited(in_reply_to, references),
        subject=_one_line(subject) or "…",  # the subject is settled below
        participants=[a.lower() for a in [account.email, *to, *cc]],
        at=now,
    )
    subject, body_text, body_html = _content(
        subject, body_text, body_html, template, account, thread, reply_to, context
    )
    if new_thread and thread.subject != subject[:500]:
        thread.subject = subject[:500]
        thread.save(update_fields=["subject"])
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
        tracking_enabled=track and tracking.tracking_available(),
        reply_to=reply_to,
        created_by=created_by,
        in_reply_to=in_reply_to,
        references=references,
    )
    _outbound_index(email, thread)
    EmailDelivery.objects.create(email=email)
    email_send_on_commit(email.pk)
    return email


# --- e-mail queued by someone else (the CRM, the admin) ----------------------------------------


# The fields of a stored e-mail that email_queued_clean reads.
_QUEUED = (
    *("to_emails", "cc_emails", "bcc_emails", "message_id", "in_reply_to", "references"),
    *("subject", "body_text", "body_html", "reply_to", "thread"),
)


def _message_id_clean(account: EmailAccount, given: str | None, pk: int | None) -> str:
    """The Message-ID in angle brackets; a new one when none is given."""
    given = (given or "").strip()
    if not given:
        return _new_message_id(account)
    if not given.startswith("<"):
        given = f"<{given}>"
    if not _MESSAGE_ID.fullmatch(given) or len(given) > _MESSAGE_ID_CHARS:
        raise ValidationError(
            {"message_id": f"“{_one_line(given)}” is not a Message-ID (like <id@example.com>)."}
        )
    others = Email.objects.filter(email_account=account, message_id=given)
    if (others.exclude(pk=pk) if pk is not None else others).exists():
        raise ValidationError({"message_id": f"Another e-mail of the account has {given}."})
    return given


def email_queued_clean(
    *, account: EmailAccount, values: dict[str, Any], pk: int | None = None
) -> dict[str, Any]:
    """Check and complete the fields (``to_emails``, ``subject``, ``reply_to``…) of an outbound
    e-mail someone else queues, as :func:`email_send_queue` would: plain addresses each once,
    a Message-ID, a reply's ``In-Reply-To`` and ``References`` and "Re:" subject, a text body.
    Returns the values to store; raises ValidationError keyed by field."""
    reply_to, thread = values.get("reply_to"), values.get("thread")
    if reply_to is not None and reply_to.email_account_id != account.pk:
        raise ValidationError({"reply_to": "The e-mail replied to belongs to another account."})
    if thread is not None and thread.email_account_id != account.pk:
        raise ValidationError({"thread": "The thread belongs to another account."})
    to = email_addresses_clean("to_emails", values.get("to_emails"))
    if not to:
        raise ValidationError({"to_emails": "An e-mail needs at least one recipient."})
    cc = email_addresses_clean("cc_emails", values.get("cc_emails"))
    bcc = email_addresses_clean("bcc_emails", values.get("bcc_emails"))
    # Message-IDs hold no spaces: a line break here would end up in the headers.
    in_reply_to = _one_line(values.get("in_reply_to") or "") or None
    references = _one_line(values.get("references") or "") or None
    if not in_reply_to and reply_to is not None:
        in_reply_to, references = _reply_headers(reply_to)
    subject = _one_line(values.get("subject") or "")
    if not subject and reply_to is not None:
        subject = _reply_subject(reply_to)
    if not subject:
        raise ValidationError({"subject": "An e-mail needs a subject."})
    body_text = values.get("body_text") or html_to_text(values.get("body_html") or "")
    if not body_text.strip():
        raise ValidationError({"body_text": "An e-mail needs some text."})
    return {
        "to_emails": to,
        "cc_emails": cc or None,
        "bcc_emails": bcc or None,
        "message_id": _message_id_clean(account, values.get("message_id"), pk),
        "in_reply_to": in_reply_to,
        "references": references,
        "subject": subject[:500],
        "body_text": body_text,
    }


@transaction.atomic
def email_queued_prepare(*, email: Email) -> Email:
    """Prepare an outbound e-mail stored ``queued`` by someone else as :func:`email_send_queue`
    prepares its own: its fields checked and completed (:func:`email_queued_clean`), a thread
    (its parent's, the one an id it cites names, or a new one) with the ids it carries, and its
    tracked links. Raises ValidationError saying what is wrong; then nothing is changed."""
    if email.direction != Direction.OUTBOUND or email.status != EmailStatus.QUEUED:
        raise ValidationError("Only an outbound e-mail queued for sending can be prepared.")
    account = email.email_account
    values = email_queued_clean(
        account=account, values={name: getattr(email, name) for name in _QUEUED}, pk=email.pk
    )
    attached = email.thread_id is None
    thread, _ = _thread_place(
        account,
        thread=email.thread,
        reply_to=email.reply_to,
        cited=_cited(values["in_reply_to"], values["references"]),
        subject=values["subject"],
        participants=[
            a.lower() for a in [account.email, *values["to_emails"], *(values["cc_emails"] or [])]
        ],
        at=email.created_at or timezone.now(),
    )
    for name, value in values.items():
        setattr(email, name, value)
    email.thread = thread
    email.save(update_fields=[*values, "thread"])
    if attached:  # email_store counted it only if it was stored with its thread
        EmailThread.objects.filter(pk=thread.pk).update(message_count=F("message_count") + 1)
    _outbound_index(email, thread)
    return email


@transaction.atomic
def email_queued_adopt(*, email: Email, enqueue: bool = True) -> bool:
    """Take over an outbound e-mail stored ``queued`` by someone else: prepare it
    (:func:`email_queued_prepare`) and give it its delivery row; with ``enqueue`` its send is
    asked for once the transaction commits. False, and nothing done, when it had a delivery row
    already (another sweep took it). Raises ValidationError when it cannot be prepared."""
    _, created = EmailDelivery.objects.get_or_create(email=email)
    if not created:
        return False
    email_queued_prepare(email=email)
    if enqueue:
        email_send_on_commit(email.pk)
    return True


def _sender_name(account: EmailAccount) -> str:
    user = account.user
    name = user.get_full_name()
    return "" if name == user.email else name
