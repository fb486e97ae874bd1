"""Console pages for e-mail accounts, threads, messages, templates, rules, sync logs and tracking.

An account's ``password`` and ``oauth_token`` columns hold Fernet tokens. The console never
renders them, neither the token nor what it decrypts to: the form has write-only fields that
replace a credential when filled in and leave it untouched otherwise. Changing an account's
servers or login needs its password typed again, and on someone else's account only a
superuser or a CEO of the company may change them (``email_account_update``).

An outbound e-mail added here as ``queued`` is prepared and sent as the hub's own mail
(``email_queued_adopt``): plain addresses, a Message-ID if none is typed, its thread, tracking.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from hub.console.admin.base import (
    ReadOnlyAdminMixin,
    ReadOnlyInlineMixin,
    ScopedModelAdmin,
    ScopedTabularInline,
    adopt,
)
from hub.console.admin.listing import clip_column, time_column
from hub.console.admin.mail import (
    AccountSyncMixin,
    EmailDeliveryMixin,
    EmailForm,
    RuleProblemsMixin,
)
from hub.domain.authentication.models import CustomerCompany
from hub.domain.emails.models import (
    Direction,
    Email,
    EmailAccount,
    EmailAttachment,
    EmailRule,
    EmailStatus,
    EmailSyncLog,
    EmailTemplate,
    EmailThread,
    EmailTracking,
)
from hub.domain.emails.sending import email_queued_adopt
from hub.domain.emails.services import (
    GUARDED_FIELDS,
    email_account_change_check,
    email_account_changed,
    email_account_create,
    email_account_update,
    email_store,
    email_thread_create,
)

CREDENTIAL_COLUMNS = ("password", "oauth_token")


class EmailAccountForm(forms.ModelForm):
    new_password = forms.CharField(
        label="New password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
        help_text="Stored encrypted. Leave empty to keep the current password; required when "
        "the servers or the login change.",
    )
    new_oauth_token = forms.CharField(
        label="New OAuth token",
        required=False,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
        help_text="Stored encrypted. Leave empty to keep the current token.",
    )
    clear_oauth_token = forms.BooleanField(label="Remove the OAuth token", required=False)

    class Meta:
        model = EmailAccount
        # An allow-list: the credential columns can never slip into the form.
        fields = (
            "company",
            "user",
            "email",
            "provider",
            "username",
            "imap_host",
            "imap_port",
            "smtp_host",
            "smtp_port",
            "is_active",
            "is_default",
            "sync_enabled",
        )
        help_texts = {
            "imap_port": "993 (the default): TLS from the start. Any other port must offer "
            "STARTTLS, or the password is not sent (except to this machine).",
            "smtp_port": "465: TLS from the start. Any other port (587, the default) must offer "
            "STARTTLS, or the password is not sent (except to this machine).",
        }

    # Who fills in the form: set by the admin (EmailAccountAdmin.get_form).
    by = None

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and not cleaned.get("new_password"):
            self.add_error("new_password", "A new account needs its password.")
        if self.instance.pk is not None:
            self._check_change(cleaned)
        company, user = cleaned.get("company"), cleaned.get("user")
        if (
            company is not None
            and user is not None
            and not company.members.filter(user=user).exists()
        ):
            self.add_error("user", f"{user.email} is not a member of {company}.")
        if cleaned.get("new_oauth_token") and cleaned.get("clear_oauth_token"):
            self.add_error("clear_oauth_token", "Either give a new token or remove it, not both.")
        return cleaned

    def _check_change(self, cleaned) -> None:
        changes = {name: cleaned[name] for name in GUARDED_FIELDS if name in cleaned}
        changed = email_account_changed(account=self.instance, changes=changes)
        try:
            email_account_change_check(
                account=self.instance,
                by=self.by,
                changed=changed,
                password=bool(cleaned.get("new_password")),
            )
        except PermissionDenied as error:
            self.add_error(None, str(error))
        except ValidationError as error:
            self.add_error("new_password", error.message_dict["password"])


sensitive_credentials = method_decorator(
    sensitive_post_parameters("new_password", "new_oauth_token")
)


@admin.register(EmailAccount)
class EmailAccountAdmin(AccountSyncMixin, ScopedModelAdmin):
    form = EmailAccountForm
    exclude = CREDENTIAL_COLUMNS
    list_display = (
        "email",
        "company",
        "user",
        "provider",
        "is_active",
        "is_default",
        "sync_enabled",
        "last_sync",
        "sync_outcome",
        "password_state",
        "oauth_state",
    )
    list_filter = ("provider", "is_active", "is_default", "sync_enabled", "company")
    ordering = ("email",)
    search_fields = ("email", "username", "user__email", "imap_host", "smtp_host")
    list_select_related = ("company", "user", "sync_state")
    autocomplete_fields = ("user",)
    readonly_fields = ("last_sync", *AccountSyncMixin.sync_fields, "password_state", "oauth_state")
    current_user_fields = ("user",)
    actions = ("sync_now", "test_connection")
    fieldsets = (
        (None, {"fields": ("company", "user", "email", "provider", "username")}),
        ("Servers", {"fields": ("imap_host", "imap_port", "smtp_host", "smtp_port")}),
        (
            "Credentials",
            {
                "fields": (
                    "password_state",
                    "new_password",
                    "oauth_state",
                    "new_oauth_token",
                    "clear_oauth_token",
                )
            },
        ),
        (
            "Sync",
            {
                "fields": (
                    "is_active",
                    "is_default",
                    "sync_enabled",
                    "last_sync",
                    *AccountSyncMixin.sync_fields,
                )
            },
        ),
    )

    @admin.display(description="password")
    def password_state(self, account: EmailAccount) -> str:
        return "set" if account.password else "not set"

    @admin.display(description="OAuth token")
    def oauth_state(self, account: EmailAccount) -> str:
        return "set" if account.oauth_token else "not set"

    def get_fieldsets(self, request, obj=None):
        fieldsets = self.fieldsets
        if obj is not None:
            fieldsets = (*fieldsets, ("Record", {"fields": ("id", "created_at")}))
        return fieldsets

    def lookup_allowed(self, lookup, value, request=None):
        # Filtering on the tokens through the URL would be an oracle on them.
        return not lookup.startswith(CREDENTIAL_COLUMNS) and super().lookup_allowed(
            lookup, value, request
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.by = request.user  # a class made for this request
        return form

    @sensitive_credentials
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def write(self, request, obj, form, change) -> None:
        new_password = form.cleaned_data.get("new_password")
        new_oauth_token = form.cleaned_data.get("new_oauth_token")
        if not change:
            fields = {
                name: getattr(obj, name)
                for name in form.cleaned_data
                if name in {f.name for f in EmailAccount._meta.concrete_fields}
                and name not in ("company", "user", "email", "provider", "username")
            }
            account = email_account_create(
                company=obj.company,
                user=obj.user,
                email=obj.email,
                provider=obj.provider,
                username=obj.username,
                password=new_password,
                oauth_token=new_oauth_token or None,
                **fields,
            )
            adopt(obj, account)
            return
        changes = {
            name: form.cleaned_data[name]
            for name in EmailAccountForm.Meta.fields
            if name in form.cleaned_data
        }
        if new_oauth_token:
            changes["oauth_token"] = new_oauth_token
        elif form.cleaned_data.get("clear_oauth_token"):
            changes["oauth_token"] = None
        # The stored row is the service's to change: the form has already set obj's fields.
        account = email_account_update(
            account=obj, by=request.user, password=new_password or None, **changes
        )
        adopt(obj, account)


class EmailThreadForm(forms.ModelForm):
    class Meta:
        model = EmailThread
        fields = "__all__"  # noqa: DJ007 - the admin decides which fields it shows

    def clean(self):
        cleaned = super().clean()
        account = cleaned.get("email_account")
        if account is None:
            return cleaned
        for name in ("lead", "deal"):
            row = cleaned.get(name)
            if row is not None and row.company_id != account.company_id:
                self.add_error(name, f"This {name} belongs to another company than the account.")
        customer = cleaned.get("customer")
        if (
            customer is not None
            and not CustomerCompany.objects.filter(
                customer=customer, company_id=account.company_id
            ).exists()
        ):
            self.add_error("customer", "This customer is not a customer of the account's company.")
        return cleaned


@admin.register(EmailThread)
class EmailThreadAdmin(ScopedModelAdmin):
    form = EmailThreadForm
    list_display = (
        "subject",
        "company",
        "email_account",
        "message_count",
        "last_message_at",
        "category",
        "sentiment",
        "is_read",
        "is_starred",
    )
    list_filter = ("category", "is_read", "is_starred", "sentiment", "company")
    search_fields = ("subject", "email_account__email")
    list_select_related = ("company", "email_account")
    autocomplete_fields = ("lead", "deal", "customer")
    # The company is the account's; the count follows the stored messages.
    readonly_fields = ("company", "message_count")
    date_hierarchy = "last_message_at"

    def row_in_companies(self, request, obj, ids) -> bool:
        # Until the service has saved it, a new thread's company is its account's.
        return obj.email_account.company_id in ids

    def write(self, request, obj, form, change) -> None:
        if change:
            obj.company_id = obj.email_account.company_id
            obj.save()
            return
        fields = {
            name: getattr(obj, name)
            for name in form.cleaned_data
            if name
            not in (
                "email_account",
                "subject",
                "participants",
                "last_message_at",
                "lead",
                "deal",
                "customer",
            )
        }
        thread = email_thread_create(
            account=obj.email_account,
            subject=obj.subject,
            participants=obj.participants,
            last_message_at=obj.last_message_at,
            lead=obj.lead,
            deal=obj.deal,
            customer=obj.customer,
            **fields,
        )
        adopt(obj, thread)


class EmailAttachmentInline(ReadOnlyInlineMixin, ScopedTabularInline):
    model = EmailAttachment
    fields = ("file_name", "file_type", "file_size", "file_path")


@admin.register(Email)
class EmailAdmin(EmailDeliveryMixin, ScopedModelAdmin):
    form = EmailForm
    company_path = "email_account__company"
    # What fits 1280 px; the thread, read, delivery, counts and files are on the e-mail's page.
    subject_column = clip_column("subject", wide=True)
    list_display = (
        subject_column,
        clip_column("from_email", "from"),
        "direction",
        "status",
        clip_column("email_account__company", "company"),
        time_column("sent_at", "sent"),
    )
    list_display_links = (subject_column,)
    list_filter = (
        "direction",
        "status",
        "is_read",
        "has_attachments",
        "email_account__company",
        "email_account",
    )
    search_fields = ("subject", "from_email", "from_name", "message_id")
    list_select_related = ("email_account__company", "thread", "delivery")
    autocomplete_fields = ("thread", "reply_to", "created_by")
    # Derived from the tracking events; the delivery is the send actor's.
    readonly_fields = (
        "opens_count",
        "clicks_count",
        "opened_at",
        "clicked_at",
        "delivery_state",
        "delivery_error",
    )
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = (EmailAttachmentInline,)

    def write(self, request, obj, form, change) -> None:
        if change:
            obj.save()
            return
        fields = {
            name: getattr(obj, name)
            for name in form.cleaned_data
            if name not in ("email_account", "thread")
        }
        email = email_store(account=obj.email_account, thread=obj.thread, **fields)
        if (email.direction, email.status) == (Direction.OUTBOUND, EmailStatus.QUEUED):
            # Importing the send actor's module connects it to the domain's queue (as "Retry
            # now" does): done on this save only, not in every web process that loads the admin.
            import hub.workers.mail_send  # noqa: F401

            email_queued_adopt(email=email)
        adopt(obj, email)


@admin.register(EmailAttachment)
class EmailAttachmentAdmin(ScopedModelAdmin):
    company_path = "email__email_account__company"
    list_display = ("file_name", "file_type", "file_size", "email", "created_at")
    search_fields = ("file_name", "file_type", "email__subject")
    list_filter = ("email__email_account__company",)
    list_select_related = ("email",)
    autocomplete_fields = ("email",)
    date_hierarchy = "created_at"


@admin.register(EmailTemplate)
class EmailTemplateAdmin(ScopedModelAdmin):
    list_display = (
        "name",
        "company",
        "category",
        "is_active",
        "usage_count",
        "created_by",
        "updated_at",
    )
    list_filter = ("category", "is_active", "company")
    ordering = ("name",)
    search_fields = ("name", "subject", "body_text")
    list_select_related = ("company", "created_by")
    autocomplete_fields = ("created_by",)
    readonly_fields = ("usage_count",)


@admin.register(EmailRule)
class EmailRuleAdmin(RuleProblemsMixin, ScopedModelAdmin):
    list_display = (
        "name",
        "company",
        "trigger",
        "template",
        "is_active",
        "problems",
        "created_by",
        "created_at",
    )
    list_filter = ("trigger", "is_active", "company")
    ordering = ("name",)
    search_fields = ("name", "description")
    list_select_related = ("company", "template", "created_by", "problem")
    autocomplete_fields = ("created_by",)
    readonly_fields = RuleProblemsMixin.problem_fields


@admin.register(EmailSyncLog)
class EmailSyncLogAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    company_path = "email_account__company"
    list_display = (
        "email_account",
        "status",
        "sync_started_at",
        "sync_completed_at",
        "emails_synced",
        "error",
    )
    list_filter = ("status", "email_account__company", "email_account")
    search_fields = ("email_account__email", "error_message")
    list_select_related = ("email_account",)
    date_hierarchy = "sync_started_at"
    ordering = ("-sync_started_at",)

    @admin.display(description="error")
    def error(self, log: EmailSyncLog) -> str:
        return (log.error_message or "")[:80]


@admin.register(EmailTracking)
class EmailTrackingAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    company_path = "email__email_account__company"
    list_display = ("event_type", "email", "tracked_at", "ip_address", "link_url")
    list_filter = ("event_type", "email__email_account__company")
    search_fields = ("email__subject", "link_url", "ip_address")
    list_select_related = ("email",)
    date_hierarchy = "tracked_at"
    ordering = ("-tracked_at",)
    show_full_result_count = False
