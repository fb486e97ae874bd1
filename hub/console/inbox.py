"""The console's inbox: the signed-in user's own threads, kept current by hub.js.

``email.created`` events move a thread to its place live (``hub/inbox.js``), which then asks
this page for the thread's row as the server renders it (``?rows=1,2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from hub.console import selectors as console_selectors
from hub.domain.authentication.models import User
from hub.domain.emails import selectors
from hub.domain.emails.models import Direction, EmailThread
from hub.domain.emails.selectors import ThreadLatest

PER_PAGE = 50


@dataclass(frozen=True)
class InboxRow:
    thread: EmailThread
    latest: ThreadLatest | None

    @property
    def last_iso(self) -> str:
        # The same text as the payloads' times (hub.domain.events.payloads._ts).
        return self.thread.last_message_at.astimezone(UTC).isoformat(timespec="microseconds")

    @property
    def sender(self) -> str:
        if self.latest is None:
            return ""
        if self.latest.direction == Direction.OUTBOUND:
            return "me"
        return self.latest.from_name or self.latest.from_email


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if "rows" in request.GET:
        return _rows(request, user=user, wanted=request.GET["rows"])
    accounts = list(selectors.inbox_accounts(user=user))
    account_id = _account_id(request.GET.get("account"), accounts=[a.pk for a in accounts])
    cursor = console_selectors.console_cursor()  # before the rows: see hub/console/views.py
    threads = selectors.inbox_threads(user=user, account_id=account_id)
    page = Paginator(threads, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": "inbox",
        "cursor": cursor,
        "accounts": accounts,
        "account_id": account_id,
        "threads_page": page,
        "rows": _inbox_rows(list(page.object_list)),
        "inbox_settings": {
            "account": account_id,
            "page": page.number,
            "per_page": PER_PAGE,
            "url": reverse("console:inbox"),
        },
    }
    return render(request, "hub/inbox.html", context)


@login_required
def thread(request: HttpRequest, thread_id: int) -> HttpResponse:
    found = selectors.inbox_thread_get(user=_user(request), thread_id=thread_id)
    if found is None:
        raise Http404("No such conversation in your inbox.")
    context = {
        "page": "inbox",
        "cursor": console_selectors.console_cursor(),
        "thread": found,
        "messages_list": selectors.inbox_thread_messages(thread=found),
    }
    return render(request, "hub/inbox_thread.html", context)


def _rows(request: HttpRequest, *, user: User, wanted: str) -> HttpResponse:
    """The rows of the given threads (of the user's), for the page to swap in live."""
    ids = [int(part) for part in wanted.split(",")[:PER_PAGE] if part.isascii() and part.isdigit()]
    threads = list(selectors.inbox_threads(user=user).filter(pk__in=ids))
    return render(request, "hub/inbox_rows.html", {"rows": _inbox_rows(threads)})


def _inbox_rows(threads: list[EmailThread]) -> list[InboxRow]:
    latest = selectors.inbox_latest(thread_ids=[t.pk for t in threads])
    return [InboxRow(thread=t, latest=latest.get(t.pk)) for t in threads]


def _account_id(posted: str | None, *, accounts: list[int]) -> int | None:
    """The account to filter by: none, or one of the user's (any other is a 404)."""
    if not posted:
        return None
    if posted.isascii() and posted.isdigit() and int(posted) in accounts:
        return int(posted)
    raise Http404("No such e-mail account of yours.")


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User), "the inbox is for signed-in users only"
    return user
