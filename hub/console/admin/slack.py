"""Console pages for Slack installations, user links, alerts and the ``/call`` requests workers
took up.

An installation's bot token is write-only: the form replaces it when a new one is typed in and
never shows the stored one (nor what it decrypts to). A token typed in is checked with Slack
(``auth.test``) to belong to the installation's workspace, as ``slack_install`` checks it.
Its alerts channel and switches are saved through ``slack_alerts_configure``; why the channel
last refused an alert (``alerts_channel_error``) is shown on the list and the page.
"""

from __future__ import annotations

import json
from functools import partial

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from hub.console.admin.base import (
    ReadOnlyAdminMixin,
    ScopedModelAdmin,
    SuperuserOnlyAdmin,
    adopt,
)
from hub.integrations.slack.alerts import (
    SWITCHES,
    alerts_channel_check,
    slack_alerts_configure,
    slack_alerts_retry,
)
from hub.integrations.slack.client import SlackError, auth_identity
from hub.integrations.slack.models import (
    SlackAlert,
    SlackCallRequest,
    SlackEventReceipt,
    SlackInstallation,
    SlackOAuthState,
    SlackUserLink,
)
from hub.integrations.slack.services import (
    slack_installation_register,
    slack_installation_update,
    slack_user_link_add,
    slack_user_link_check,
    slack_user_link_update,
)
from hub.workers.slack_alerts import slack_alerts_deliver

ALERT_FIELDS = ("alerts_channel_id", *SWITCHES.values())


class SlackInstallationForm(forms.ModelForm):
    new_bot_token = forms.CharField(
        label="New bot token",
        required=False,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
        help_text="xoxb-…, stored encrypted. Leave empty to keep the current token.",
    )

    class Meta:
        model = SlackInstallation
        # An allow-list: the token column never slips into the form.
        fields = ("team_id", "team_name", "company", "bot_user_id", "is_active", *ALERT_FIELDS)

    def clean_alerts_channel_id(self) -> str:
        try:
            return alerts_channel_check(self.cleaned_data.get("alerts_channel_id") or "")
        except ValidationError as error:
            raise ValidationError(error.message_dict["alerts_channel_id"]) from error

    def clean(self):
        cleaned = super().clean()
        token = cleaned.get("new_bot_token")
        if self.instance.pk is None and not token:
            self.add_error("new_bot_token", "A new installation needs its bot token.")
        if token and not token.startswith("xoxb-"):
            self.add_error("new_bot_token", "A bot token starts with xoxb-.")
        elif token:
            self._verify(cleaned, token)
        return cleaned

    def _verify(self, cleaned: dict, token: str) -> None:
        """Ask Slack (``auth.test``, as ``slack_install`` does) whose token this is."""
        team_id = self.instance.team_id if self.instance.pk else cleaned.get("team_id")
        if not team_id:
            return  # the team id field has its own error
        try:
            identity = auth_identity(token=token)
        except SlackError as exc:
            self.add_error(
                "new_bot_token", f"Slack did not confirm this token, so it was not saved: {exc}."
            )
            return
        if identity["team_id"] != team_id:
            self.add_error(
                "new_bot_token",
                f"This token belongs to Slack workspace {identity['team_id'] or 'unknown'}, "
                f"not {team_id}.",
            )
            return
        cleaned["bot_user_id"] = cleaned.get("bot_user_id") or identity["user_id"]
        cleaned["team_name"] = cleaned.get("team_name") or identity["team"]


@admin.register(SlackInstallation)
class SlackInstallationAdmin(ScopedModelAdmin):
    form = SlackInstallationForm
    exclude = ("bot_token",)
    list_display = (
        "team_id",
        "team_name",
        "company",
        "bot_user_id",
        "is_active",
        "alerts",
        "created_at",
    )
    list_filter = ("is_active", "company")
    search_fields = ("team_id", "team_name", "company__company_name")
    list_select_related = ("company",)
    ordering = ("team_id",)
    readonly_fields = ("token_state", "alerts_problem")
    fieldsets = (
        (None, {"fields": ("team_id", "team_name", "company", "bot_user_id", "is_active")}),
        ("Bot token", {"fields": ("token_state", "new_bot_token")}),
        (
            "Alerts",
            {
                "fields": ("alerts_channel_id", "alerts_problem", *SWITCHES.values()),
                "description": "Deals won, lost and moved are posted to the alerts channel "
                "(invite the app there); assignments, missed calls and voicemails are sent "
                "to the member as a DM.",
            },
        ),
    )

    @admin.display(description="bot token")
    def token_state(self, installation: SlackInstallation) -> str:
        return "set" if installation.bot_token else "not set"

    @admin.display(description="alerts")
    def alerts(self, installation: SlackInstallation) -> str:
        if installation.alerts_channel_error:
            return _problem(installation.alerts_channel_error)
        return installation.alerts_channel_id or "no channel"

    @admin.display(description="alerts channel problem")
    def alerts_problem(self, installation: SlackInstallation) -> str:
        if not installation.alerts_channel_error:
            return "none: the last alert got through (or none was posted yet)"
        return _problem(installation.alerts_channel_error)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.fieldsets
        return (*self.fieldsets, ("Record", {"fields": ("id", "created_at", "updated_at")}))

    def get_readonly_fields(self, request, obj=None):
        # Moving a workspace to another company is `slack_install` again (it forgets the links).
        fixed = ("team_id", "company") if obj else ()
        return (*super().get_readonly_fields(request, obj), *fixed)

    def lookup_allowed(self, lookup, value, request=None):
        # Filtering on the token through the URL would be an oracle on it.
        return not lookup.startswith("bot_token") and super().lookup_allowed(lookup, value, request)

    @method_decorator(sensitive_post_parameters("new_bot_token"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "GET" and object_id is not None:
            shown = self.get_object(request, object_id)
            if shown is not None and shown.alerts_channel_error:
                messages.warning(
                    request, f"Alerts are not reaching Slack: {shown.alerts_channel_error}"
                )
        return super().changeform_view(request, object_id, form_url, extra_context)

    def write(self, request, obj, form, change) -> None:
        token = form.cleaned_data.get("new_bot_token")
        wanted = {name: getattr(obj, name) for name in ALERT_FIELDS}
        if not change:
            saved = slack_installation_register(
                team_id=obj.team_id,
                company=obj.company,
                bot_token=token,
                bot_user_id=obj.bot_user_id,
                team_name=obj.team_name,
            )
            adopt(obj, saved)
        else:
            # The alert fields are the alerts service's to write: the plain update keeps them.
            stored = SlackInstallation.objects.get(pk=obj.pk)
            for name in ALERT_FIELDS:
                setattr(obj, name, getattr(stored, name))
            slack_installation_update(installation=obj, bot_token=token)
        channel_changed = not change or "alerts_channel_id" in form.changed_data
        slack_alerts_configure(
            installation=obj,
            channel_id=wanted["alerts_channel_id"] if channel_changed else None,
            kinds_on=[kind for kind, field in SWITCHES.items() if wanted[field]],
            kinds_off=[kind for kind, field in SWITCHES.items() if not wanted[field]],
        )


def _problem(error: str) -> str:
    return format_html('<strong style="color: #ba2121">⚠ {}</strong>', error)


class SlackUserLinkForm(forms.ModelForm):
    class Meta:
        model = SlackUserLink
        fields = ("installation", "slack_user_id", "user", "email")

    def clean(self):
        cleaned = super().clean()
        installation, user = cleaned.get("installation"), cleaned.get("user")
        if installation is not None and user is not None:
            # The service's rule, shown next to its field rather than failing the save.
            try:
                slack_user_link_check(installation=installation, user=user)
            except ValidationError as error:
                for field, messages in error.message_dict.items():
                    self.add_error(field, messages)
        return cleaned


@admin.register(SlackUserLink)
class SlackUserLinkAdmin(ScopedModelAdmin):
    form = SlackUserLinkForm
    company_path = "installation__company"
    list_display = ("slack_user_id", "user", "email", "installation", "created_at")
    list_filter = ("installation",)
    search_fields = ("slack_user_id", "email", "user__email")
    list_select_related = ("installation", "user")
    autocomplete_fields = ("user",)
    current_user_fields = ()

    def get_field_queryset(self, db, db_field, request):
        queryset = super().get_field_queryset(db, db_field, request)
        if (
            request is not None
            and not request.user.is_superuser
            and db_field.name == "installation"
        ):
            # The installation names the link's company: one where the user's role allows the
            # write (the base class does this for a ``company`` field).
            queryset = queryset.filter(company_id__in=self.write_ids(request))
        return queryset

    def write(self, request, obj, form, change) -> None:
        if change:
            slack_user_link_update(link=obj)
            return
        link = slack_user_link_add(
            installation=obj.installation,
            slack_user_id=obj.slack_user_id,
            user=obj.user,
            email=obj.email,
        )
        adopt(obj, link)


@admin.register(SlackCallRequest)
class SlackCallRequestAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    """Each /call a worker took up, its call and what the person was told (written by workers)."""

    company_path = "installation__company"
    list_display = ("claimed_at", "to_number", "user", "call", "installation", "outcome")
    list_filter = ("installation",)
    search_fields = ("to_number", "user__email", "request_id")
    list_select_related = ("installation", "user", "call")
    date_hierarchy = "claimed_at"
    ordering = ("-claimed_at",)
    current_user_fields = ()

    def has_delete_permission(self, request, obj=None):
        # A row is the claim that keeps a redelivered job from ringing again: nobody, not even
        # a superuser, removes it here.
        return False


@admin.register(SlackAlert)
class SlackAlertAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    """Each Slack message an event of the log made, and what came of it (written by workers).

    A failed or skipped alert can be posted again (the action); nothing is edited or deleted
    here (retention removes settled alerts after 30 days).
    """

    company_path = "installation__company"
    list_display = (
        "created_at",
        "kind",
        "recipient_shown",
        "status",
        "attempts",
        "last_error",
        "installation",
    )
    list_filter = ("status", "kind", "installation")
    search_fields = ("recipient", "channel_id", "last_error", "user__email")
    list_select_related = ("installation", "user")
    date_hierarchy = "created_at"
    ordering = ("-id",)
    current_user_fields = ()
    actions = ("post_again",)
    fields = (
        "id",
        "installation",
        "kind",
        "recipient",
        "channel_id",
        "user",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "message_ts",
        "event_id",
        "created_at",
        "sent_at",
        "payload_json",
    )
    readonly_fields = fields

    @admin.display(description="to", ordering="recipient")
    def recipient_shown(self, alert: SlackAlert) -> str:
        if alert.user_id is not None and alert.user is not None:
            return f"DM to {alert.user.get_full_name()}"
        return f"channel {alert.channel_id}"

    @admin.display(description="payload")
    def payload_json(self, alert: SlackAlert) -> str:
        return format_html("<pre>{}</pre>", json.dumps(alert.payload, indent=2, sort_keys=True))

    def has_delete_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request) -> bool:
        """Who may post alerts again: whoever may change the Slack rows of a company."""
        return request.user.is_superuser or bool(self.write_ids(request))

    @admin.action(description="Post again (failed or skipped alerts)", permissions=["retry"])
    def post_again(self, request, queryset) -> None:
        # The base class has already kept only the rows of companies the user may write in.
        count, installation_ids = slack_alerts_retry(alerts=queryset)
        for installation_id in installation_ids:
            transaction.on_commit(
                partial(slack_alerts_deliver.send, installation_id=installation_id)
            )
        if count:
            self.message_user(request, f"{count} alert(s) will be posted again, in their order.")
        else:
            self.message_user(
                request, "None of those alerts had failed or been skipped.", messages.WARNING
            )


@admin.register(SlackOAuthState)
class SlackOAuthStateAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    """ "Add to Slack" installs started: who, for which company, and whether Slack came back."""

    list_display = ("created_at", "company", "user", "used_at")
    list_filter = ("company",)
    search_fields = ("user__email", "company__company_name")
    list_select_related = ("company", "user")
    ordering = ("-id",)
    current_user_fields = ()
    # The state itself is a one-time secret of the install under way: never shown.
    fields = ("id", "company", "user", "created_at", "used_at")
    readonly_fields = fields


@admin.register(SlackEventReceipt)
class SlackEventReceiptAdmin(SuperuserOnlyAdmin):
    """Events API deliveries taken up (Slack's retries of one are answered, not done again)."""

    list_display = ("received_at", "event_type", "team_id", "event_id")
    list_filter = ("event_type",)
    search_fields = ("=event_id", "team_id")
    ordering = ("-id",)
    fields = ("id", "event_id", "team_id", "event_type", "received_at")
    readonly_fields = fields
