"""Console pages for the mail engine's own tables (``hub_email_*``), and what the pages of
``emails.py`` show of them (an account's sync, an e-mail's delivery, a rule's problems).

An account's "Test connection" logs in to its servers and says how it went, nothing more. An
e-mail added in the console as outbound and queued is checked like the hub's own
(:class:`EmailForm`). The tables are the engine's bookkeeping, so they are read-only here, with
two deliberate exceptions: a folder cursor can be reset ("Resync folder": the next sync reads the folder again
from the sync window, without duplicates), and a failed delivery can be sent again ("Retry
now"). Each row reaches its company through its account, e-mail or rule.
"""

from __future__ import annotations

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from hub.console.admin.base import ReadOnlyAdminMixin, ScopedModelAdmin
from hub.domain.emails.delivery import email_delivery_retry
from hub.domain.emails.models import (
    DeliveryState,
    Direction,
    Email,
    EmailAccount,
    EmailDelivery,
    EmailLink,
    EmailRule,
    EmailRuleProblem,
    EmailStatus,
    EmailSyncLog,
    EmailThreadRef,
    MailFolderCursor,
    MailSyncState,
)
from hub.domain.emails.rule_schema import rule_problems
from hub.domain.emails.sending import email_queued_clean
from hub.domain.emails.services import email_account_connection_test
from hub.domain.emails.sync_state import folder_cursors_reset

WHEN = "%Y-%m-%d %H:%M"
CONNECTION_TESTS_AT_ONCE = 5


class AccountSyncMixin:
    """The e-mail account admin's sync: the last run in the list, the last log and the error
    the owner was told of on the page, and the "Sync now" and "Test connection" actions."""

    sync_fields = ("last_sync_log", "sync_error")

    def get_queryset(self, request):
        last = EmailSyncLog.objects.filter(email_account=OuterRef("pk")).order_by(
            "-sync_started_at", "-pk"
        )
        queryset = super().get_queryset(request)  # type: ignore[misc]
        return queryset.annotate(last_run=Subquery(last.values("status")[:1]))

    @admin.display(description="last run")
    def sync_outcome(self, account: EmailAccount) -> str:
        status = getattr(account, "last_run", None) or "never"
        error = _sync_state(account).last_error
        return f"{status}: {error[:60]}" if error else status

    @admin.display(description="last sync log")
    def last_sync_log(self, account: EmailAccount) -> str:
        log = account.sync_logs.order_by("-sync_started_at", "-pk").first() if account.pk else None
        if log is None:
            return "No sync has run yet."
        return format_html(
            '<a href="{}">{}, {}</a>: {} new message(s). {}',
            reverse("admin:emails_emailsynclog_change", args=[log.pk]),
            log.status,
            log.sync_started_at.strftime(WHEN),
            log.emails_synced,
            log.error_message or "",
        )

    @admin.display(description="sync error")
    def sync_error(self, account: EmailAccount) -> str:
        state = _sync_state(account)
        if not state.last_error:
            return "None."
        told = (
            f"the owner was told at {state.owner_notified_at:{WHEN}}"
            if state.owner_notified_at
            else "the owner has not been told yet"
        )
        since = f"failing since {state.failing_since:{WHEN}}; " if state.failing_since else ""
        return f"{state.last_error} ({since}{told})"

    def has_sync_permission(self, request) -> bool:
        """Who may start a sync: whoever may change the mail rows of a company."""
        return request.user.is_superuser or bool(self.write_ids(request))  # type: ignore[attr-defined]

    @admin.action(description="Sync now", permissions=["sync"])
    def sync_now(self, request, queryset) -> None:
        # The sync actor's module brings the IMAP client and the sync engine; a web process
        # needs them only when this button is pressed.
        from hub.workers.mail_sync import mail_sync_account

        # The base class has already kept only the rows of companies the user may write in.
        ready = list(
            queryset.filter(is_active=True, sync_enabled=True, imap_host__gt="").values_list(
                "pk", flat=True
            )
        )
        for account_id in ready:
            transaction.on_commit(partial(mail_sync_account.send, account_id=account_id))
        if ready:
            self.message_user(request, f"A sync of {len(ready)} mailbox(es) is queued.")  # type: ignore[attr-defined]
        skipped = queryset.count() - len(ready)
        if skipped:
            self.message_user(  # type: ignore[attr-defined]
                request,
                f"{skipped} mailbox(es) not synced: inactive, sync turned off, or no IMAP server.",
                messages.WARNING,
            )

    @admin.action(description="Test connection (log in to IMAP and SMTP)", permissions=["sync"])
    def test_connection(self, request, queryset) -> None:
        # Each test may wait for two servers' timeouts: a few mailboxes per click.
        chosen = list(queryset.order_by("email")[:CONNECTION_TESTS_AT_ONCE])
        for account in chosen:
            checks = email_account_connection_test(account=account)
            level = messages.SUCCESS if all(c.ok for c in checks) else messages.ERROR
            text = " ".join(check.text for check in checks)
            self.message_user(request, f"{account.email}: {text}", level)  # type: ignore[attr-defined]
        if queryset.count() > len(chosen):
            self.message_user(  # type: ignore[attr-defined]
                request,
                f"Only the first {len(chosen)} mailboxes were tested: select fewer at a time.",
                messages.WARNING,
            )


class EmailDeliveryMixin:
    """The e-mail admin's delivery: its state in the list, its last error on the page."""

    @admin.display(description="delivery")
    def delivery_state(self, email: Email) -> str:
        delivery = _delivery(email)
        if delivery is None:
            return "-" if email.direction == Direction.INBOUND else "not queued"
        return f"{delivery.state} ({delivery.attempts} attempt(s))"

    @admin.display(description="delivery error")
    def delivery_error(self, email: Email) -> str:
        delivery = _delivery(email)
        return delivery.last_error if delivery is not None and delivery.last_error else "None."


class EmailForm(forms.ModelForm):
    """An e-mail added as outbound and ``queued`` is checked and completed as the hub's own
    (``email_queued_clean``): a Message-ID made when none is typed, a reply's subject."""

    # Filled in for an e-mail to send; required of the others.
    completed = {
        "message_id": "Leave empty for an outbound e-mail to send: the hub makes one.",
        "subject": "May be left empty for a reply to send: it becomes “Re: …”.",
    }

    class Meta:
        model = Email
        fields = "__all__"  # noqa: DJ007 - the admin decides which fields it shows

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, help_text in self.completed.items():
            if self.instance.pk is None and name in self.fields:
                self.fields[name].required = False
                self.fields[name].help_text = help_text

    def clean(self):
        cleaned = super().clean()
        account = cleaned.get("email_account")
        if self.instance.pk is not None or account is None:
            return cleaned
        to_send = (Direction.OUTBOUND, EmailStatus.QUEUED)
        if (cleaned.get("direction"), cleaned.get("status")) == to_send:
            try:
                cleaned.update(email_queued_clean(account=account, values=cleaned))
            except ValidationError as error:
                self.add_error(None, error)
            return cleaned
        for name in self.completed:
            if name in self.fields and not cleaned.get(name):
                self.add_error(name, "Required, unless the e-mail is outbound and queued.")
        return cleaned


class RuleProblemsMixin:
    """The rule admin's problems: what keeps the rule from running now (checked as the page
    is drawn) and what stopped it when it last ran (``hub_email_rule_problem``)."""

    problem_fields = ("problems_now", "problem_stored")

    @admin.display(description="problems")
    def problems(self, rule: EmailRule) -> str:
        found = rule_problems(rule)
        return f"{len(found)}: {found[0][:70]}" if found else "none"

    @admin.display(description="problems in the rule now")
    def problems_now(self, rule: EmailRule) -> str:
        found = rule_problems(rule)
        if not found:
            return "None: the rule runs as written."
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((p,) for p in found))
        )

    @admin.display(description="when it last ran")
    def problem_stored(self, rule: EmailRule) -> str:
        stored = _stored_problem(rule)
        if stored is None:
            return "It ran without a problem, or has not run yet."
        return (
            f"Skipped: {stored.message} ({stored.occurrences} time(s); first "
            f"{stored.first_seen_at:{WHEN}}, last {stored.last_seen_at:{WHEN}})"
        )

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        rest = [n for n in fieldsets[0][1]["fields"] if n not in self.problem_fields]
        if obj is None:  # a rule not saved yet has not run
            return ((None, {"fields": rest}),)
        return ((None, {"fields": rest}), ("Problems", {"fields": self.problem_fields}))

    def write(self, request, obj, form, change) -> None:
        obj.save()
        found = rule_problems(obj)
        if found:
            self.message_user(  # type: ignore[attr-defined]
                request,
                f"The rule “{obj.name}” is saved, but it is skipped until this is fixed: "
                + " ".join(found),
                messages.WARNING,
            )


def _sync_state(account: EmailAccount) -> MailSyncState:
    try:
        return account.sync_state
    except MailSyncState.DoesNotExist:
        return MailSyncState(account=account)


def _delivery(email: Email) -> EmailDelivery | None:
    try:
        return email.delivery
    except EmailDelivery.DoesNotExist:
        return None


def _stored_problem(rule: EmailRule) -> EmailRuleProblem | None:
    try:
        return rule.problem
    except EmailRuleProblem.DoesNotExist:
        return None


class MailAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    current_user_fields = ()

    def has_delete_permission(self, request, obj=None):
        return False

    def may_write(self, request) -> bool:
        """Whether the user may change the mail rows of some company (superuser, CEO…)."""
        return request.user.is_superuser or bool(self.write_ids(request))


@admin.register(MailFolderCursor)
class MailFolderCursorAdmin(MailAdmin):
    """How far each folder of a mailbox has been read."""

    company_path = "account__company"
    list_display = (
        "account",
        "role",
        "name",
        "uidvalidity",
        "last_uid",
        "highest_modseq",
        "synced_at",
    )
    list_filter = ("role", "account__company", "account")
    search_fields = ("account__email", "name")
    list_select_related = ("account",)
    ordering = ("account__email", "role")
    actions = ("resync_folder",)

    def has_resync_permission(self, request) -> bool:
        return self.may_write(request)

    @admin.action(
        description="Resync folder (read it again from the sync window)", permissions=["resync"]
    )
    def resync_folder(self, request, queryset) -> None:
        # The base class has already kept only the rows of companies the user may write in.
        count, busy = folder_cursors_reset(cursors=queryset)
        if count:
            self.message_user(
                request,
                f"{count} folder(s) will be read again from the start of the sync window at the "
                "next sync; messages already stored are not duplicated.",
            )
        if busy:
            self.message_user(
                request,
                f"{busy} folder(s) were left as they are: their mailbox is syncing right now. "
                "Try again when the sync has finished.",
                messages.WARNING,
            )


@admin.register(MailSyncState)
class MailSyncStateAdmin(MailAdmin):
    """One per mailbox: the lease of the run under way and the failure its owner was told of."""

    company_path = "account__company"
    list_display = ("account", "lease_until", "failing_since", "error", "owner_notified_at")
    list_filter = ("account__company",)
    search_fields = ("account__email", "last_error")
    list_select_related = ("account",)
    ordering = ("account__email",)
    # The lease token only tells workers apart: nothing to read in it.
    fields = (
        "account",
        "lease_until",
        "last_error",
        "failing_since",
        "owner_notified_at",
        "updated_at",
    )

    @admin.display(description="last error")
    def error(self, state: MailSyncState) -> str:
        return state.last_error[:80]


@admin.register(EmailThreadRef)
class EmailThreadRefAdmin(MailAdmin):
    """The Message-IDs each thread's messages carry or cite (threading's index)."""

    company_path = "account__company"
    list_display = ("message_id", "thread", "account")
    list_filter = ("account__company", "account")
    search_fields = ("=message_id", "thread__subject")
    list_select_related = ("thread", "account")
    show_full_result_count = False


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(MailAdmin):
    """The sending of each outbound e-mail: its state, attempts and last error."""

    company_path = "email__email_account__company"
    list_display = ("email", "state", "attempts", "last_attempt_at", "error", "created_at")
    list_filter = ("state", "email__email_account__company")
    search_fields = ("email__subject", "email__message_id", "last_error")
    list_select_related = ("email",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    actions = ("retry_now",)

    @admin.display(description="last error")
    def error(self, delivery: EmailDelivery) -> str:
        return delivery.last_error[:80]

    def has_retry_permission(self, request) -> bool:
        return self.may_write(request)

    @admin.action(description="Retry now (failed deliveries)", permissions=["retry"])
    def retry_now(self, request, queryset) -> None:
        # Importing the send actor's module connects it to the domain's queue, through which
        # the service enqueues; done when the button is pressed, so that loading the admin
        # does not declare the workers' actors in every web process.
        import hub.workers.mail_send  # noqa: F401

        # The base class has already kept only the rows of companies the user may write in.
        failed = queryset.filter(state=DeliveryState.FAILED).select_related("email")
        retried = 0
        for delivery in failed:
            try:
                email_delivery_retry(email=delivery.email)
            except ValidationError as error:
                self.message_user(
                    request, f"“{delivery.email}”: {' '.join(error.messages)}", messages.ERROR
                )
            else:
                retried += 1
        if retried:
            self.message_user(request, f"{retried} e-mail(s) will be sent again now.")
        elif not failed:
            self.message_user(request, "None of those deliveries had failed.", messages.WARNING)


@admin.register(EmailLink)
class EmailLinkAdmin(MailAdmin):
    """The links of sent e-mails that the click redirect leads to."""

    company_path = "email__email_account__company"
    list_display = ("url", "email", "created_at")
    list_filter = ("email__email_account__company",)
    search_fields = ("url", "email__subject")
    list_select_related = ("email",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    show_full_result_count = False


@admin.register(EmailRuleProblem)
class EmailRuleProblemAdmin(MailAdmin):
    """Why a rule was skipped when it last ran (it is fixed on the rule's own page)."""

    company_path = "rule__company"
    list_display = ("rule", "message", "occurrences", "first_seen_at", "last_seen_at")
    list_filter = ("rule__company",)
    search_fields = ("rule__name", "message")
    list_select_related = ("rule",)
    ordering = ("-last_seen_at",)
