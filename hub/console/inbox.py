"""The console's inbox: the signed-in user's own threads, kept current by hub.js.

``email.created`` events move a thread to its place live (``hub/inbox.js``), which then asks
this page for the thread's row as the server renders it (``?rows=1,2``). Opening a thread
marks it read; its page replies through the send queue, and "New e-mail" composes one.
Times are shown in the zone of the companies of the user's mailboxes, labelled (else UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from hub.console import selectors as console_selectors
from hub.console.views import staff_user
from hub.domain.authentication.models import User
from hub.domain.authentication.selectors import memberships_active
from hub.domain.emails import selectors
from hub.domain.emails.hub_models import DeliveryState
from hub.domain.emails.inbox_services import email_thread_mark_read
from hub.domain.emails.models import Direction, Email, EmailAccount, EmailTemplate, EmailThread
from hub.domain.emails.selectors import ThreadLatest
from hub.domain.emails.sending import email_send_queue

PER_PAGE = 50
_ADDRESS_LIST_MAX = 2000


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


# --- forms -----------------------------------------------------------------------------------


class TemplateField(forms.ModelChoiceField):
    """A choice of templates, named with their company when they come from several."""

    with_company = False

    def label_from_instance(self, obj: EmailTemplate) -> str:
        return f"{obj.name} ({obj.company.company_name})" if self.with_company else obj.name


class ReplyForm(forms.Form):
    to = forms.CharField(max_length=_ADDRESS_LIST_MAX, label="To")
    body = forms.CharField(
        label="Message", required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    template = TemplateField(
        EmailTemplate.objects.none(), required=False, empty_label="(no template)"
    )

    def __init__(self, *args, templates: QuerySet[EmailTemplate], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        listed = list(templates)
        if not listed:
            del self.fields["template"]
            return
        field = self.fields["template"]
        assert isinstance(field, TemplateField)
        field.queryset = templates
        field.with_company = len({t.company_id for t in listed}) > 1

    def clean(self) -> dict:
        data = super().clean() or {}
        has_body = bool((data.get("body") or "").strip())
        if data.get("template") is not None and has_body:
            self.add_error("body", "Leave the message empty to send the template, or choose none.")
        elif data.get("template") is None and not has_body and "body" not in self.errors:
            self.add_error("body", "Write a message (or choose a template).")
        return data


class ComposeForm(ReplyForm):
    account = forms.ModelChoiceField(EmailAccount.objects.none(), label="From", empty_label=None)
    cc = forms.CharField(max_length=_ADDRESS_LIST_MAX, label="Cc", required=False)
    subject = forms.CharField(max_length=500, label="Subject", required=False)

    field_order = ["account", "to", "cc", "subject", "template", "body"]

    def __init__(self, *args, accounts: QuerySet[EmailAccount], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["account"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = accounts


# Where a field the send service names goes on the forms (others: the form's own errors).
_FORM_FIELDS = {"to": "to", "cc": "cc", "bcc": "cc", "subject": "subject", "body_text": "body"}
_FORM_FIELDS |= {"body_html": "body", "template": "template", "account": "account"}


def _service_errors(form: forms.Form, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for name, texts in error.message_dict.items():
        field = _FORM_FIELDS.get(name)
        form.add_error(field if field in form.fields else None, texts)


_ANGLED = re.compile(r"<([^<>]*)>")


def _addresses(text: str) -> list[str]:
    """The addresses of a To or Cc field: separated by commas or semicolons, each either bare
    or ``Name <address>``. The send service checks each one."""
    found = []
    for part in re.split(r"[,;]", text or ""):
        angled = _ANGLED.search(part)
        address = (angled.group(1) if angled else part).strip()
        if address:
            found.append(address)
    return found


# --- pages -----------------------------------------------------------------------------------


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    accounts = list(selectors.inbox_accounts(user=user))
    account_id = _account_id(request.GET.get("account"), accounts=[a.pk for a in accounts])
    if "rows" in request.GET:
        return _rows(request, user=user, wanted=request.GET["rows"], account_id=account_id)
    cursor = console_selectors.console_cursor()  # before the rows: see hub/console/views.py
    threads = selectors.inbox_threads(user=user, account_id=account_id)
    page = Paginator(threads, PER_PAGE).get_page(request.GET.get("page"))
    zone = _zone(user)
    context = {
        "page": "inbox",
        "cursor": cursor,
        "accounts": accounts,
        "account_id": account_id,
        "member": bool(accounts) or memberships_active().filter(user=user).exists(),
        "threads_page": page,
        "rows": _inbox_rows(list(page.object_list)),
        "unread": selectors.inbox_unread_count(user=user, account_id=account_id),
        "inbox_settings": {
            "account": account_id,
            "page": page.number,
            "per_page": PER_PAGE,
            "url": reverse("console:inbox"),
            "time_zone": str(zone),
        },
    }
    with timezone.override(zone):
        return render(request, "hub/inbox.html", context)


@login_required
def thread(request: HttpRequest, thread_id: int) -> HttpResponse:
    """A conversation, as it was before this visit (new messages stand out), then read."""
    user = staff_user(request)
    found = _thread(user, thread_id)
    messages_list = list(selectors.inbox_thread_messages(thread=found))
    email_thread_mark_read(user=user, thread=found)
    form = ReplyForm(
        initial={"to": _reply_address(found, messages_list)}, templates=_templates(user, found)
    )
    return _thread_page(request, user, found, messages_list, form)


@login_required
@require_POST
def reply(request: HttpRequest, thread_id: int) -> HttpResponse:
    """Queue a reply to the thread's newest message from someone else."""
    user = staff_user(request)
    found = _thread(user, thread_id)
    form = ReplyForm(request.POST, templates=_templates(user, found))
    if form.is_valid():
        parent = selectors.inbox_last_inbound(thread=found)
        try:
            email_send_queue(
                account=found.email_account,
                to=_addresses(form.cleaned_data["to"]),
                subject=_re(parent.subject if parent is not None else found.subject),
                body_text=form.cleaned_data["body"],
                template=form.cleaned_data.get("template"),
                created_by=user,
                thread=found,
                reply_to=parent,
            )
        except ValidationError as error:
            _service_errors(form, error)
        else:
            messages.success(request, "Your reply is queued; it is sent in a moment.")
            return redirect("console:inbox-thread", found.pk)
    messages_list = list(selectors.inbox_thread_messages(thread=found))
    return _thread_page(request, user, found, messages_list, form, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def compose(request: HttpRequest) -> HttpResponse:
    """A new e-mail from one of the user's accounts; sent, it opens its new thread."""
    user = staff_user(request)
    accounts = selectors.inbox_accounts(user=user)
    templates = selectors.inbox_templates(user=user)
    status = 200
    if request.method == "POST":
        # Another's account is a 404, like everything else of theirs.
        _account_id(request.POST.get("account"), accounts=[a.pk for a in accounts])
        form = ComposeForm(request.POST, accounts=accounts, templates=templates)
        if form.is_valid():
            data = form.cleaned_data
            try:
                email = email_send_queue(
                    account=data["account"],
                    to=_addresses(data["to"]),
                    cc=_addresses(data["cc"]),
                    subject=data["subject"],
                    body_text=data["body"],
                    template=data.get("template"),
                    created_by=user,
                )
            except ValidationError as error:
                _service_errors(form, error)
            else:
                messages.success(request, "Your e-mail is queued; it is sent in a moment.")
                return redirect("console:inbox-thread", email.thread_id)
        status = 400
    else:
        chosen = _account_id(request.GET.get("account"), accounts=[a.pk for a in accounts])
        if chosen is None:
            chosen = next((a.pk for a in accounts if a.is_default), None)
        form = ComposeForm(initial={"account": chosen}, accounts=accounts, templates=templates)
    context = {
        "page": "inbox",
        "cursor": console_selectors.console_cursor(),
        "form": form,
        "has_accounts": accounts.exists(),
    }
    return render(request, "hub/inbox_compose.html", context, status=status)


@login_required
def attachment(request: HttpRequest, attachment_id: int) -> FileResponse:
    """Download an attachment of one of the user's threads, under the name it was stored with."""
    found = selectors.inbox_attachment_get(user=staff_user(request), attachment_id=attachment_id)
    if found is None or not found.file_path:
        raise Http404("No such attachment in your inbox.")
    try:
        handle = found.file_path.open("rb")
    except OSError:
        raise Http404("The file of this attachment is missing.") from None
    return FileResponse(
        handle,
        as_attachment=True,
        filename=found.file_name,
        content_type=_content_type(found.file_type),
    )


# --- helpers ---------------------------------------------------------------------------------


def _thread_page(
    request: HttpRequest,
    user: User,
    found: EmailThread,
    messages_list: list[Email],
    form: ReplyForm,
    *,
    status: int = 200,
) -> HttpResponse:
    context = {
        "page": "inbox",
        "cursor": console_selectors.console_cursor(),
        "thread": found,
        # (message, how far its sending got), oldest first.
        "messages_list": [(m, _delivery(m)) for m in messages_list],
        "form": form,
    }
    with timezone.override(_zone(user)):
        return render(request, "hub/inbox_thread.html", context, status=status)


@dataclass(frozen=True)
class Delivery:
    state: str  # queued, sending, sent, failed, or the message's own status
    text: str


def _delivery(email: Email) -> Delivery | None:
    """How far the sending of an outbound message got: queued, sent or failed (and why)."""
    if email.direction != Direction.OUTBOUND:
        return None
    state = getattr(email, "delivery_state", None)
    error = getattr(email, "delivery_error", None) or ""
    if state is None:  # sent by another program (synced from the Sent folder, the CRM)
        return Delivery(email.status, email.status)
    if state == DeliveryState.FAILED:
        return Delivery("failed", f"failed: {error}" if error else "failed")
    if state == DeliveryState.SENT:
        return Delivery("sent", "sent")
    if state == DeliveryState.SENDING:
        return Delivery("sending", "sending")
    return Delivery("queued", f"queued (will retry: {error})" if error else "queued")


def _thread(user: User, thread_id: int) -> EmailThread:
    found = selectors.inbox_thread_get(user=user, thread_id=thread_id)
    if found is None:
        raise Http404("No such conversation in your inbox.")
    return found


def _templates(user: User, found: EmailThread) -> QuerySet[EmailTemplate]:
    return selectors.inbox_templates(user=user, company_id=found.company_id)


def _reply_address(found: EmailThread, messages_list: list[Email]) -> str:
    """The other party: the sender of the newest inbound message, else whom we last wrote to."""
    own = found.email_account.email.lower()
    for email in reversed(messages_list):
        if email.direction == Direction.INBOUND:
            return email.from_email
        others = [a for a in email.to_emails or [] if a.lower() != own]
        if others:
            return ", ".join(others)
    return ", ".join(p for p in found.participants or [] if p.lower() != own)


def _re(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


def _content_type(stored: str) -> str:
    # The type came with the mail: send it on only when it is a plain type/subtype.
    value = (stored or "").strip().lower()
    return value if _CONTENT_TYPE.fullmatch(value) else "application/octet-stream"


def _zone(user: User) -> tzinfo:
    """The zone of the companies of the user's mailboxes when they share one, else UTC."""
    name = selectors.inbox_time_zone(user=user)
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def _rows(request: HttpRequest, *, user: User, wanted: str, account_id: int | None) -> HttpResponse:
    """The rows of the given threads (of the user's), for the page to swap in live, with the
    count of unread conversations (of the page's account filter) in ``X-Inbox-Unread``."""
    ids = [int(part) for part in wanted.split(",")[:PER_PAGE] if part.isascii() and part.isdigit()]
    threads = list(selectors.inbox_threads(user=user).filter(pk__in=ids))
    with timezone.override(_zone(user)):
        response = render(request, "hub/inbox_rows.html", {"rows": _inbox_rows(threads)})
    response["X-Inbox-Unread"] = str(selectors.inbox_unread_count(user=user, account_id=account_id))
    return response


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
