"""Writes on e-mail accounts, messages and templates; a new message is pushed to its owner.

An account's servers and login decide where its stored password is sent, so changing them
(:data:`SERVER_FIELDS`) needs the password typed again: otherwise whoever may edit the account
could point it at their own server and collect the owner's password. Who may change them, or
give the mailbox to another member, on someone else's account: :func:`email_account_may_redirect`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from hub.domain.authentication.checks import company_member_check
from hub.domain.authentication.models import Company, Customer, CustomerCompany, Role, User
from hub.domain.authentication.selectors import memberships_active
from hub.domain.emails.crypto import CredentialError, credential_decrypt, credential_encrypt
from hub.domain.emails.models import Email, EmailAccount, EmailThread
from hub.domain.emails.templates import (  # moved there; still importable from here
    email_template_render as email_template_render,
)
from hub.domain.events.models import Audience
from hub.domain.events.payloads import email_payload
from hub.domain.events.services import event_record
from hub.integrations.mail.imap import ImapMailbox, MailServerError
from hub.integrations.mail.smtp import DEFAULT_PORT, SmtpError, SmtpServer, smtp_login_check

logger = logging.getLogger(__name__)

# Where the password goes: changing one of these needs the password typed again.
SERVER_FIELDS = ("imap_host", "imap_port", "smtp_host", "smtp_port", "username")
# What only the owner, a superuser or a CEO of the company may change on an account.
GUARDED_FIELDS = (*SERVER_FIELDS, "user")
SERVERS_CHANGED = "The servers or the login changed: enter the password again."
NOT_YOURS = (
    "Only the mailbox's owner, a superuser or a CEO of the company may change its servers, "
    "its login or its owner."
)
_EDITABLE = frozenset(
    {
        *GUARDED_FIELDS,
        *("company", "email", "provider", "is_active", "is_default", "sync_enabled"),
    }
)


@transaction.atomic
def email_account_create(
    *,
    company: Company,
    user: User,
    email: str,
    provider: str,
    username: str,
    password: str,
    **fields,
) -> EmailAccount:
    """Connect a mailbox; the password is stored only as a Fernet token."""
    if not password:
        raise ValidationError({"password": "A password is required."})
    company_member_check(company=company, user=user, field="user")
    if fields.get("is_default"):
        EmailAccount.objects.filter(user=user, is_default=True).update(is_default=False)
    oauth_token = fields.pop("oauth_token", None)
    account = EmailAccount(
        company=company,
        user=user,
        email=email.strip().lower(),
        provider=provider,
        username=username,
        password=credential_encrypt(password),
        oauth_token=credential_encrypt(oauth_token) if oauth_token else None,
        **fields,
    )
    account.full_clean()
    account.save()
    return account


def email_account_may_redirect(*, account: EmailAccount, user: User) -> bool:
    """Whether ``user`` may change the account's servers, login or owner: its owner, a
    superuser, or an active CEO of its company. A manager who may edit the company's mail
    rows may not: the mailbox and its password are its owner's."""
    if not user.is_active:
        return False
    if user.is_superuser or user.pk == account.user_id:
        return True
    return (
        memberships_active()
        .filter(company_id=account.company_id, user=user, role=Role.CEO)
        .exists()
    )


def _same(account: EmailAccount, name: str, value: Any) -> bool:
    field = EmailAccount._meta.get_field(name)
    if field.is_relation:
        return getattr(account, f"{name}_id") == getattr(value, "pk", value)
    return (getattr(account, name) or None) == (value or None)


def email_account_changed(*, account: EmailAccount, changes: dict[str, Any]) -> list[str]:
    """The names of ``changes`` whose value differs from the stored account's."""
    return [name for name, value in changes.items() if not _same(account, name, value)]


def email_account_change_check(
    *, account: EmailAccount, by: User | None, changed: Iterable[str], password: bool
) -> None:
    """Refuse a change of servers or login without the password (ValidationError on
    ``password``), and one of :data:`GUARDED_FIELDS` by someone else than
    :func:`email_account_may_redirect` allows (PermissionDenied); ``by`` None is the hub."""
    changed = set(changed)
    if (
        by is not None
        and changed & set(GUARDED_FIELDS)
        and not email_account_may_redirect(account=account, user=by)
    ):
        raise PermissionDenied(NOT_YOURS)
    if changed & set(SERVER_FIELDS) and not password:
        raise ValidationError({"password": SERVERS_CHANGED})


@transaction.atomic
def email_account_update(
    *, account: EmailAccount, by: User | None = None, password: str | None = None, **changes
) -> EmailAccount:
    """Change an account's fields (``oauth_token``: a new token, or None to remove it).

    ``password`` replaces the stored one; it is required when a server or the login changes.
    ``by`` is who asks (None for the hub itself): see :func:`email_account_change_check`.
    """
    stored = EmailAccount.objects.select_for_update().get(pk=account.pk)
    oauth = changes.pop("oauth_token", ...)
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise ValueError(f"email_account_update cannot change {', '.join(sorted(unknown))}")
    changed = email_account_changed(account=stored, changes=changes)
    email_account_change_check(account=stored, by=by, changed=changed, password=bool(password))
    for name in changed:
        setattr(stored, name, changes[name])
    stored.email = stored.email.strip().lower()
    if {"user", "company"} & set(changed):
        company_member_check(company=stored.company, user=stored.user, field="user")
    if password:
        stored.password = credential_encrypt(password)
    if oauth is not ...:
        stored.oauth_token = credential_encrypt(oauth) if oauth else None
    stored.full_clean()
    if stored.is_default:
        EmailAccount.objects.filter(user_id=stored.user_id, is_default=True).exclude(
            pk=stored.pk
        ).update(is_default=False)
    stored.save()
    return stored


def email_account_set_password(*, account: EmailAccount, password: str) -> EmailAccount:
    if not password:
        raise ValidationError({"password": "A password is required."})
    account.password = credential_encrypt(password)
    account.save(update_fields=["password"])
    return account


@transaction.atomic
def email_store(*, account: EmailAccount, thread: EmailThread | None = None, **fields) -> Email:
    """Store a message of the account (sync or send) and push it to the account's owner."""
    email = Email(email_account=account, thread=thread, **fields)
    email.full_clean(exclude=["thread", "reply_to"])
    email.save()
    if thread is not None:
        at = email.sent_at or email.created_at
        EmailThread.objects.filter(pk=thread.pk).update(
            message_count=F("message_count") + 1,
            last_message_at=Greatest(F("last_message_at"), Value(at)),
        )
    email_created_record(account=account, email=email)
    return email


def email_created_record(*, account: EmailAccount, email: Email) -> None:
    """Log ``email.created`` to the account's owner (on PostgreSQL the trigger on
    emails_email wrote it already: event_record knows)."""
    event_record(
        company_id=account.company_id,
        audience=Audience.USER,
        user_id=account.user_id,
        topic="emails",
        type="email.created",
        payload=email_payload(email),
    )


@transaction.atomic
def email_thread_create(
    *,
    account: EmailAccount,
    subject: str,
    participants: list[str] | None = None,
    last_message_at: datetime | None = None,
    lead=None,
    deal=None,
    customer: Customer | None = None,
    **fields,
) -> EmailThread:
    """Open a conversation of the account; its lead, deal and customer must be its company's."""
    for name, row in (("lead", lead), ("deal", deal)):
        if row is not None and row.company_id != account.company_id:
            raise ValidationError({name: f"The {name} belongs to another company."})
    if (
        customer is not None
        and not CustomerCompany.objects.filter(
            customer=customer, company_id=account.company_id
        ).exists()
    ):
        raise ValidationError({"customer": "The customer is not a customer of this company."})
    thread = EmailThread(
        company_id=account.company_id,
        email_account=account,
        subject=subject[:500],
        participants=participants or [],
        last_message_at=last_message_at or timezone.now(),
        lead=lead,
        deal=deal,
        customer=customer,
        **fields,
    )
    thread.full_clean()
    thread.save()
    return thread


# --- connection test ------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionCheck:
    """How a login to one of the account's servers went: ``text`` is a sentence."""

    ok: bool
    text: str


def email_account_smtp_server(account: EmailAccount) -> SmtpServer:
    """The account's SMTP server with its password (raises CredentialError when it cannot be
    decrypted)."""
    return SmtpServer(
        host=account.smtp_host or "",
        port=account.smtp_port or DEFAULT_PORT,
        username=account.username,
        password=credential_decrypt(account.password) if account.username else "",
        timeout=settings.HUB_EMAIL_SMTP_TIMEOUT_SECONDS,
        allow_plaintext=settings.HUB_EMAIL_ALLOW_PLAINTEXT_LOGIN,
    )


def email_account_connection_test(*, account: EmailAccount) -> list[ConnectionCheck]:
    """Log in to the account's IMAP and SMTP servers (reading and sending nothing)."""
    try:
        credential_decrypt(account.password)
    except CredentialError as error:
        return [ConnectionCheck(False, f"{error} Set the account's password again.")]
    return [_imap_check(account), _smtp_check(account)]


def _imap_check(account: EmailAccount) -> ConnectionCheck:
    if not account.imap_host:
        return ConnectionCheck(False, "IMAP: the account has no IMAP server.")
    try:
        with ImapMailbox.open(
            host=account.imap_host,
            port=account.imap_port,
            username=account.username,
            password=credential_decrypt(account.password),
            timeout=settings.HUB_EMAIL_IMAP_TIMEOUT_SECONDS,
        ):
            pass
    except MailServerError as error:
        return ConnectionCheck(False, f"IMAP: {error}")
    except Exception as error:
        logger.exception("IMAP connection test of account %s failed", account.pk)
        return ConnectionCheck(
            False, f"IMAP: the test stopped on an internal error ({type(error).__name__})."
        )
    return ConnectionCheck(True, f"IMAP: logged in to {account.imap_host}.")


def _smtp_check(account: EmailAccount) -> ConnectionCheck:
    if not account.smtp_host:
        return ConnectionCheck(False, "SMTP: the account has no SMTP server.")
    server = email_account_smtp_server(account)
    try:
        protection = smtp_login_check(server=server)
    except SmtpError as error:
        return ConnectionCheck(False, f"SMTP: {error}")
    except Exception as error:
        logger.exception("SMTP connection test of account %s failed", account.pk)
        return ConnectionCheck(
            False, f"SMTP: the test stopped on an internal error ({type(error).__name__})."
        )
    return ConnectionCheck(True, f"SMTP: logged in to {server.host}:{server.port} ({protection}).")
