"""Console pages for Slack installations, user links and the ``/call`` requests workers took up.

An installation's bot token is write-only: the form replaces it when a new one is typed in and
never shows the stored one (nor what it decrypts to). A token typed in is checked with Slack
(``auth.test``) to belong to the installation's workspace, as ``slack_install`` checks it.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from hub.console.admin.base import ReadOnlyAdminMixin, ScopedModelAdmin, adopt
from hub.integrations.slack.client import SlackError, auth_identity
from hub.integrations.slack.models import SlackCallRequest, SlackInstallation, SlackUserLink
from hub.integrations.slack.services import (
    slack_installation_register,
    slack_installation_update,
    slack_user_link_add,
    slack_user_link_check,
    slack_user_link_update,
)


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
        fields = ("team_id", "team_name", "company", "bot_user_id", "is_active")

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
    list_display = ("team_id", "team_name", "company", "bot_user_id", "is_active", "created_at")
    list_filter = ("is_active", "company")
    search_fields = ("team_id", "team_name", "company__company_name")
    list_select_related = ("company",)
    ordering = ("team_id",)
    readonly_fields = ("token_state",)
    fieldsets = (
        (None, {"fields": ("team_id", "team_name", "company", "bot_user_id", "is_active")}),
        ("Bot token", {"fields": ("token_state", "new_bot_token")}),
    )

    @admin.display(description="bot token")
    def token_state(self, installation: SlackInstallation) -> str:
        return "set" if installation.bot_token else "not set"

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
        return super().changeform_view(request, object_id, form_url, extra_context)

    def write(self, request, obj, form, change) -> None:
        token = form.cleaned_data.get("new_bot_token")
        if not change:
            saved = slack_installation_register(
                team_id=obj.team_id,
                company=obj.company,
                bot_token=token,
                bot_user_id=obj.bot_user_id,
                team_name=obj.team_name,
            )
            adopt(obj, saved)
            return
        slack_installation_update(installation=obj, bot_token=token)


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
