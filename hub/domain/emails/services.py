"""Writes on e-mail accounts, messages and templates; a new message is pushed to its owner."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from hub.domain.authentication.checks import company_member_check
from hub.domain.authentication.models import Company, Customer, CustomerCompany, User
from hub.domain.emails.crypto import credential_encrypt
from hub.domain.emails.models import Email, EmailAccount, EmailThread
from hub.domain.emails.templates import (  # moved there; still importable from here
    email_template_render as email_template_render,
)
from hub.domain.events.models import Audience
from hub.domain.events.payloads import email_payload
from hub.domain.events.services import event_record


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
    event_record(
        company_id=account.company_id,
        audience=Audience.USER,
        user_id=account.user_id,
        topic="emails",
        type="email.created",
        payload=email_payload(email),
    )
    return email


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
