"""Reads for a person's inbox. Mail is personal: a user sees the threads of the accounts they
own, in the companies where they are an active member; no role (CEO, manager) sees anyone
else's mail."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce, Substr

from hub.domain.authentication.models import User
from hub.domain.authentication.selectors import memberships_active
from hub.domain.emails.models import (
    Direction,
    Email,
    EmailAccount,
    EmailAttachment,
    EmailTemplate,
    EmailThread,
)
from hub.domain.events.payloads import email_snippet

# Characters of a body read to make a snippet (the snippet folds whitespace, then shortens).
_SNIPPET_SOURCE = 2000


@dataclass(frozen=True)
class ThreadLatest:
    """What the inbox shows of a thread's newest message."""

    email_id: int
    from_email: str
    from_name: str
    direction: str
    snippet: str


def inbox_accounts(*, user: User) -> QuerySet[EmailAccount]:
    """The e-mail accounts the user owns in companies where they are an active member."""
    companies = memberships_active().filter(user=user).values("company_id")
    return EmailAccount.objects.filter(user=user, company_id__in=companies).order_by("email", "id")


def inbox_time_zone(*, user: User) -> str | None:
    """The time zone of the companies of the user's accounts, when they all have the same."""
    zones = set(inbox_accounts(user=user).values_list("company__timezone", flat=True))
    return zones.pop() if len(zones) == 1 else None


def inbox_threads(*, user: User, account_id: int | None = None) -> QuerySet[EmailThread]:
    """The user's threads, newest first, with the records they are linked to."""
    accounts = inbox_accounts(user=user)
    if account_id is not None:
        accounts = accounts.filter(pk=account_id)
    return (
        EmailThread.objects.filter(email_account__in=accounts.values("pk"))
        .select_related("email_account", "lead", "deal", "customer__user")
        .order_by("-last_message_at", "-id")
    )


def inbox_thread_get(*, user: User, thread_id: int) -> EmailThread | None:
    """The thread if it is one of the user's, else None."""
    return inbox_threads(user=user).filter(pk=thread_id).first()


def inbox_unread_count(*, user: User, account_id: int | None = None) -> int:
    """How many of the user's threads are unread."""
    return inbox_threads(user=user, account_id=account_id).filter(is_read=False).count()


def inbox_thread_messages(*, thread: EmailThread) -> QuerySet[Email]:
    """The thread's messages, oldest first, with their attachments and, for mail the hub sends,
    its delivery's state and last error (``delivery_state``, ``delivery_error``; None when
    the message has no delivery row)."""
    return (
        Email.objects.filter(thread=thread)
        .annotate(
            at=Coalesce("sent_at", "created_at"),
            delivery_state=F("delivery__state"),
            delivery_error=F("delivery__last_error"),
        )
        .prefetch_related("attachments")
        .order_by("at", "id")
    )


def inbox_last_inbound(*, thread: EmailThread) -> Email | None:
    """The thread's newest message from someone else: what a reply answers."""
    return (
        Email.objects.filter(thread=thread, direction=Direction.INBOUND)
        .annotate(at=Coalesce("sent_at", "created_at"))
        .order_by("-at", "-id")
        .first()
    )


def inbox_templates(*, user: User, company_id: int | None = None) -> QuerySet[EmailTemplate]:
    """The active templates of the companies of the user's accounts (or of one of them)."""
    companies = inbox_accounts(user=user).values("company_id")
    templates = EmailTemplate.objects.filter(company_id__in=companies, is_active=True)
    if company_id is not None:
        templates = templates.filter(company_id=company_id)
    return templates.select_related("company").order_by("name", "id")


def inbox_attachment_get(*, user: User, attachment_id: int) -> EmailAttachment | None:
    """The attachment if its message is in one of the user's threads, else None."""
    return (
        EmailAttachment.objects.filter(
            pk=attachment_id,
            email__thread__email_account__in=inbox_accounts(user=user).values("pk"),
        )
        .select_related("email")
        .first()
    )


def inbox_latest(*, thread_ids: list[int]) -> dict[int, ThreadLatest]:
    """Each thread's newest message (sender, direction, snippet), in two queries."""
    newest = (
        Email.objects.filter(thread_id=OuterRef("pk"))
        .annotate(at=Coalesce("sent_at", "created_at"))
        .order_by("-at", "-id")
        .values("id")[:1]
    )
    pairs = EmailThread.objects.filter(pk__in=thread_ids).annotate(newest_id=Subquery(newest))
    by_email = {e: t for t, e in pairs.values_list("pk", "newest_id") if e is not None}
    emails = (
        Email.objects.filter(pk__in=list(by_email))
        .annotate(head=Substr("body_text", 1, _SNIPPET_SOURCE))
        .values_list("id", "from_email", "from_name", "direction", "head")
    )
    return {
        by_email[pk]: ThreadLatest(
            email_id=pk,
            from_email=from_email,
            from_name=from_name,
            direction=direction,
            snippet=email_snippet(head),
        )
        for pk, from_email, from_name, direction, head in emails
    }
