"""Writes of a person's inbox: the read state of their threads."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from hub.domain.authentication.models import User
from hub.domain.emails.models import Email, EmailThread
from hub.domain.emails.selectors import inbox_accounts


@transaction.atomic
def email_thread_mark_read(*, user: User, thread: EmailThread) -> int:
    """Mark the thread and its unread messages read; return how many messages changed.

    Only the owner of the thread's account (an active member of its company) may."""
    if not inbox_accounts(user=user).filter(pk=thread.email_account_id).exists():
        raise PermissionDenied("This conversation is not in your inbox.")
    now = timezone.now()
    changed = Email.objects.filter(thread=thread, is_read=False).update(is_read=True, read_at=now)
    EmailThread.objects.filter(pk=thread.pk, is_read=False).update(is_read=True)
    thread.is_read = True
    return changed
