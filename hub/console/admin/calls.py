"""Console pages for phone numbers, calls, recordings, notes and voicemail."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from hub.console.admin.base import (
    ReadOnlyInlineMixin,
    ScopedModelAdmin,
    ScopedTabularInline,
    adopt,
    save_with_services,
)
from hub.console.admin.listing import clip_column, person_column, time_column
from hub.domain.authentication.checks import company_rows_check
from hub.domain.calls.hours import (
    DAYS,
    OpeningHours,
    opening_hours_add,
    opening_hours_update,
    schedule_ranges,
    timezone_choices,
)
from hub.domain.calls.models import Call, CallNote, CallRecording, PhoneNumber, VoicemailMessage
from hub.domain.calls.services import (
    call_create,
    call_disposition_set,
    call_note_add,
    call_status_set,
    phone_normalize,
    phone_number_add,
    phone_number_check,
    phone_number_update,
    voicemail_create,
)
from hub.domain.calls.voicemail import LISTENED_FIELDS, voicemail_listened_set, voicemail_update


class PhoneNumberForm(forms.ModelForm):
    class Meta:
        model = PhoneNumber
        fields = "__all__"  # noqa: DJ007 - the admin decides which fields it shows

    def clean_phone_number(self) -> str:
        try:
            return phone_normalize(self.cleaned_data["phone_number"])
        except ValidationError as error:
            raise ValidationError(error.message_dict["phone_number"]) from None

    def clean(self):
        cleaned = super().clean()
        # The service's rules, shown next to their fields rather than failing the save.
        if any(name in self.errors for name in ("company", "user", "phone_number")):
            return cleaned
        company = cleaned.get("company", getattr(self.instance, "company", None))
        user = cleaned.get("user", getattr(self.instance, "user", None))
        number = cleaned.get("phone_number")
        if company is None or user is None or not number:
            return cleaned
        is_active = cleaned.get("is_active", self.instance.is_active)
        try:
            phone_number_check(
                company=company,
                user=user,
                phone_number=number,
                is_active=is_active,
                exclude_pk=self.instance.pk,
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return cleaned


@admin.register(PhoneNumber)
class PhoneNumberAdmin(ScopedModelAdmin):
    form = PhoneNumberForm
    list_display = (
        "phone_number",
        "company",
        "user",
        "number_type",
        "provider",
        "is_active",
        "is_default",
        "monthly_cost",
        "purchased_at",
    )
    list_filter = ("number_type", "is_active", "is_default", "provider", "company")
    ordering = ("phone_number",)
    search_fields = ("phone_number", "twilio_phone_sid", "user__email")
    list_select_related = ("company", "user")
    autocomplete_fields = ("user",)
    date_hierarchy = "purchased_at"
    current_user_fields = ("user",)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        # A new number's country comes from the number itself.
        return readonly if obj is not None else (*readonly, "country_code")

    def write(self, request, obj, form, change) -> None:
        if change:
            phone_number_update(
                number=obj,
                **{
                    name: getattr(obj, name)
                    for name in form.changed_data
                    if name in form.cleaned_data
                },
            )
            return
        fields = {
            name: getattr(obj, name)
            for name in form.cleaned_data
            if name
            not in (
                "company",
                "user",
                "phone_number",
                "twilio_phone_sid",
                "number_type",
                "is_default",
            )
        }
        number = phone_number_add(
            company=obj.company,
            user=obj.user,
            phone_number=obj.phone_number,
            twilio_phone_sid=obj.twilio_phone_sid,
            number_type=obj.number_type,
            is_default=obj.is_default,
            **fields,
        )
        adopt(obj, number)


class CallNoteInline(ReadOnlyInlineMixin, ScopedTabularInline):
    model = CallNote
    fields = ("note", "user", "created_at")


class CallRecordingInline(ReadOnlyInlineMixin, ScopedTabularInline):
    model = CallRecording
    fields = ("recording_sid", "recording_url", "duration", "file_size", "created_at")


@admin.register(Call)
class CallAdmin(ScopedModelAdmin):
    # What fits 1280 px; the call SID, duration and disposition are on the call's page.
    created = time_column("created_at", "created")
    list_display = (
        created,
        "direction",
        "from_number",
        "to_number",
        "status",
        clip_column("company"),
        person_column("user"),
    )
    list_display_links = (created,)
    list_filter = ("status", "direction", "disposition", "company", "user")
    search_fields = ("from_number", "to_number", "twilio_call_sid", "notes")
    list_select_related = ("company", "user")
    autocomplete_fields = ("phone_number", "user", "lead", "deal", "customer")
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = (CallNoteInline, CallRecordingInline)

    def write(self, request, obj, form, change) -> None:
        if not change:
            required = (
                "company",
                "direction",
                "from_number",
                "to_number",
                "twilio_call_sid",
                "status",
            )
            fields = {
                name: getattr(obj, name) for name in form.cleaned_data if name not in required
            }
            adopt(obj, call_create(**{name: getattr(obj, name) for name in required}, **fields))
            return
        save_with_services(
            obj,
            form,
            {
                "status": lambda status: call_status_set(call=obj, status=status),
                "disposition": lambda disposition: call_disposition_set(
                    call=obj, disposition=disposition
                ),
            },
        )


@admin.register(CallRecording)
class CallRecordingAdmin(ScopedModelAdmin):
    company_path = "call__company"
    list_display = ("recording_sid", "call", "duration", "file_size", "created_at")
    list_filter = ("call__company",)
    search_fields = ("recording_sid", "transcription", "call__twilio_call_sid")
    list_select_related = ("call",)
    autocomplete_fields = ("call",)
    date_hierarchy = "created_at"


@admin.register(CallNote)
class CallNoteAdmin(ScopedModelAdmin):
    company_path = "call__company"
    list_display = ("__str__", "call", "user", "created_at")
    list_filter = ("call__company",)
    search_fields = ("note", "call__twilio_call_sid", "user__email")
    list_select_related = ("call", "user")
    autocomplete_fields = ("call", "user")
    date_hierarchy = "created_at"
    current_user_fields = ("user",)

    def write(self, request, obj, form, change) -> None:
        if change:
            obj.save()
            return
        adopt(obj, call_note_add(call=obj.call, user=obj.user, note=obj.note))


class VoicemailMessageForm(forms.ModelForm):
    class Meta:
        model = VoicemailMessage
        fields = "__all__"  # noqa: DJ007 - the admin decides which fields it shows

    def clean(self):
        cleaned = super().clean()
        company = cleaned.get("company", getattr(self.instance, "company", None))
        number = cleaned.get("phone_number")
        if company is not None:
            # The services' rule, shown next to its field rather than failing the save.
            try:
                company_rows_check(company=company, phone_number=number)
            except ValidationError as error:
                for field, messages in error.message_dict.items():
                    self.add_error(field if field in self.fields else None, messages)
        return cleaned


@admin.register(VoicemailMessage)
class VoicemailMessageAdmin(ScopedModelAdmin):
    form = VoicemailMessageForm
    list_display = (
        "from_number",
        "company",
        "phone_number",
        "duration",
        "is_listened",
        "listened_by",
        "listened_at",
        "created_at",
    )
    list_filter = ("is_listened", "company")
    search_fields = ("from_number", "transcription")
    list_select_related = ("company", "phone_number", "listened_by")
    autocomplete_fields = ("phone_number", "listened_by")
    date_hierarchy = "created_at"

    def write(self, request, obj, form, change) -> None:
        edited = {name for name in form.changed_data if name in form.cleaned_data}
        if change:
            details = edited - set(LISTENED_FIELDS)
            voicemail = voicemail_update(
                voicemail=obj, **{name: getattr(obj, name) for name in details}
            )
        else:
            voicemail = voicemail_create(
                company=obj.company,
                phone_number=obj.phone_number,
                from_number=obj.from_number,
                duration=obj.duration,
                recording_url=obj.recording_url,
                transcription=obj.transcription,
            )
        if edited & set(LISTENED_FIELDS):
            voicemail_listened_set(
                voicemail=voicemail,
                is_listened=obj.is_listened,
                by=obj.listened_by,
                at=obj.listened_at,
            )
        if not change:
            adopt(obj, voicemail)


_DAY_HELP = "Ranges as HH:MM-HH:MM, separated by commas (24:00 for midnight); empty: closed."


def _day_text(pairs: object) -> str:
    if not isinstance(pairs, list):
        return ""
    return ", ".join(f"{pair[0]}-{pair[1]}" for pair in pairs if len(pair) == 2)


def _day_pairs(day: str, text: str) -> list[list[str]]:
    pairs = []
    for part in filter(None, (part.strip() for part in text.split(","))):
        start, dash, end = part.partition("-")
        if not dash:
            raise ValidationError(f"{part!r}: write a range as HH:MM-HH:MM.")
        pairs.append([start.strip(), end.strip()])
    schedule_ranges({day: pairs})  # HH:MM, start before end, no overlaps
    return pairs


class OpeningHoursForm(forms.ModelForm):
    """The weekly schedule as one line of ranges per day rather than raw JSON."""

    timezone = forms.ChoiceField(choices=timezone_choices, initial="UTC")
    mon = forms.CharField(label="Monday", required=False, help_text=_DAY_HELP)
    tue = forms.CharField(label="Tuesday", required=False)
    wed = forms.CharField(label="Wednesday", required=False)
    thu = forms.CharField(label="Thursday", required=False)
    fri = forms.CharField(label="Friday", required=False)
    sat = forms.CharField(label="Saturday", required=False)
    sun = forms.CharField(label="Sunday", required=False)

    class Meta:
        model = OpeningHours
        # The schedule is built from the day fields in clean().
        fields = ("company", "timezone", "closed_message", "is_enabled")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        schedule = self.instance.schedule if isinstance(self.instance.schedule, dict) else {}
        for day in DAYS:
            self.initial.setdefault(day, _day_text(schedule.get(day)))

    def clean(self):
        cleaned = super().clean()
        schedule = {}
        for day in DAYS:
            try:
                schedule[day] = _day_pairs(day, cleaned.get(day) or "")
            except ValidationError as error:
                self.add_error(day, error.messages)
        if not any(day in self.errors for day in DAYS):
            self.instance.schedule = schedule
        return cleaned


@admin.register(OpeningHours)
class OpeningHoursAdmin(ScopedModelAdmin):
    form = OpeningHoursForm
    list_display = ("company", "is_enabled", "timezone", "updated_at")
    list_filter = ("is_enabled", "company")
    search_fields = ("company__company_name", "timezone")
    list_select_related = ("company",)

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        first = [name for name in ("company", "is_enabled", "timezone", *DAYS) if name in fields]
        return [*first, *(name for name in fields if name not in first)]

    def write(self, request, obj, form, change) -> None:
        # The form's clean() built the schedule from the day fields onto the instance.
        names = ("company", "timezone", "schedule", "closed_message", "is_enabled")
        fields = {name: getattr(obj, name) for name in names}
        if change:
            opening_hours_update(hours=obj, **fields)
        else:
            adopt(obj, opening_hours_add(**fields))
