"""The console writes opening hours and voicemail through their services (hours.py, voicemail.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from hub.console.admin import calls as calls_admin
from hub.domain.calls.hours import OpeningHours, opening_hours_add, opening_hours_update
from hub.domain.calls.models import VoicemailMessage
from hub.domain.calls.voicemail import voicemail_listened_set, voicemail_update
from tests import factories
from tests.admin.helpers import admin_url, changeform_data

pytestmark = pytest.mark.django_db

SERVICES = (
    "opening_hours_add",
    "opening_hours_update",
    "voicemail_create",
    "voicemail_update",
    "voicemail_listened_set",
)


@pytest.fixture
def used(monkeypatch) -> list[str]:
    """The names of the services the calls admin called, in order."""
    names: list[str] = []

    def spy(name):
        real = getattr(calls_admin, name)

        def recorded(**kwargs):
            names.append(name)
            return real(**kwargs)

        monkeypatch.setattr(calls_admin, name, recorded)

    for name in SERVICES:
        spy(name)
    return names


def form_data(client, model, *args, **values):
    view = "change" if args else "add"
    return changeform_data(client.get(admin_url(model, view, *args))) | values


def assert_saved(response):
    assert response.status_code == 302, response.context["adminform"].form.errors


# --- opening hours ----------------------------------------------------------------------------


def test_opening_hours_are_added_and_changed_through_the_services(bob_client, acme, used):
    data = form_data(
        bob_client,
        OpeningHours,
        company=acme.pk,
        timezone="Europe/Berlin",
        mon="09:00-12:00, 13:00-17:30",
        closed_message="{company} is closed.",
    )
    assert_saved(bob_client.post(admin_url(OpeningHours, "add"), data))
    assert used == ["opening_hours_add"]
    hours = OpeningHours.objects.get(company=acme)
    assert (hours.timezone, hours.is_enabled, hours.closed_message) == (
        "Europe/Berlin",
        True,
        "{company} is closed.",
    )
    assert hours.schedule["mon"] == [["09:00", "12:00"], ["13:00", "17:30"]]
    assert hours.schedule["tue"] == [["09:00", "17:30"]]  # the default, shown and kept
    assert hours.schedule["sat"] == []

    data = form_data(
        bob_client, OpeningHours, hours.pk, timezone="America/New_York", sat="10:00-14:00"
    )
    del data["is_enabled"]  # unticked
    assert_saved(bob_client.post(admin_url(OpeningHours, "change", hours.pk), data))
    assert used == ["opening_hours_add", "opening_hours_update"]
    hours.refresh_from_db()
    assert (hours.timezone, hours.is_enabled) == ("America/New_York", False)
    assert hours.schedule["sat"] == [["10:00", "14:00"]]
    assert hours.schedule["mon"] == [["09:00", "12:00"], ["13:00", "17:30"]]


def test_opening_hours_services_refuse_what_the_form_refuses(acme):
    with pytest.raises(ValidationError):
        opening_hours_add(company=acme, timezone="Mars/Olympus_Mons")
    with pytest.raises(ValidationError):
        opening_hours_add(company=acme, schedule={"mon": [["17:00", "09:00"]]})
    with pytest.raises(ValidationError):
        opening_hours_add(company=acme, closed_message="")
    assert not OpeningHours.objects.exists()

    hours = opening_hours_add(company=acme)
    assert hours.schedule["fri"] == [["09:00", "17:30"]] and hours.timezone == "UTC"
    with pytest.raises(ValidationError):
        opening_hours_add(company=acme)  # one row per company
    with pytest.raises(ValidationError):
        opening_hours_update(
            hours=hours, schedule={"sun": [["10:00", "12:00"], ["11:00", "13:00"]]}
        )
    with pytest.raises(TypeError):
        opening_hours_update(hours=hours, created_at=None)
    hours.refresh_from_db()
    assert hours.schedule["sun"] == []

    opening_hours_update(hours=hours, timezone="Asia/Tokyo", is_enabled=False)
    hours.refresh_from_db()
    assert (hours.timezone, hours.is_enabled) == ("Asia/Tokyo", False)


# --- voicemail --------------------------------------------------------------------------------


def test_marking_a_voicemail_listened_goes_through_the_service(
    bob_client, staff_bob, acme_rows, used
):
    voicemail = acme_rows["voicemail"]
    data = form_data(
        bob_client,
        VoicemailMessage,
        voicemail.pk,
        is_listened="on",
        listened_by=staff_bob.pk,
        listened_at_0="2026-01-05",
        listened_at_1="10:30:00",
    )
    assert_saved(bob_client.post(admin_url(VoicemailMessage, "change", voicemail.pk), data))
    assert "voicemail_listened_set" in used
    voicemail.refresh_from_db()
    assert voicemail.is_listened
    assert voicemail.listened_by == staff_bob
    assert voicemail.listened_at is not None
    assert voicemail.transcription == "Acme voicemail"

    # A correction of its details leaves the flag alone (and goes through its own service).
    used.clear()
    data = form_data(bob_client, VoicemailMessage, voicemail.pk, transcription="Call me back")
    assert_saved(bob_client.post(admin_url(VoicemailMessage, "change", voicemail.pk), data))
    assert used == ["voicemail_update"]
    voicemail.refresh_from_db()
    assert (voicemail.transcription, voicemail.is_listened) == ("Call me back", True)

    # Unticked and cleared: stored as given.
    data = form_data(bob_client, VoicemailMessage, voicemail.pk, listened_by="")
    for key in ("is_listened", "listened_at_0", "listened_at_1"):
        data.pop(key, None)
    assert_saved(bob_client.post(admin_url(VoicemailMessage, "change", voicemail.pk), data))
    voicemail.refresh_from_db()
    assert (voicemail.is_listened, voicemail.listened_by, voicemail.listened_at) == (
        False,
        None,
        None,
    )


def test_a_voicemail_added_as_listened_keeps_its_flag(bob_client, staff_bob, acme, acme_rows, used):
    data = form_data(
        bob_client,
        VoicemailMessage,
        company=acme.pk,
        phone_number=acme_rows["number"].pk,
        from_number="+14155550177",
        duration=12,
        recording_url="https://recordings.test/vm2",
        is_listened="on",
        listened_by=staff_bob.pk,
    )
    assert_saved(bob_client.post(admin_url(VoicemailMessage, "add"), data))
    assert used == ["voicemail_create", "voicemail_listened_set"]
    voicemail = VoicemailMessage.objects.get(from_number="+14155550177")
    assert (voicemail.company, voicemail.is_listened, voicemail.listened_by) == (
        acme,
        True,
        staff_bob,
    )

    used.clear()
    data |= {"from_number": "+14155550178"}
    del data["is_listened"]
    data["listened_by"] = ""
    assert_saved(bob_client.post(admin_url(VoicemailMessage, "add"), data))
    assert used == ["voicemail_create"]
    assert not VoicemailMessage.objects.get(from_number="+14155550178").is_listened


def test_a_voicemail_cannot_be_pointed_at_another_company_number(
    bob_client, staff_bob, globex, acme_rows, globex_rows
):
    # bob manages Globex too, so its numbers are among his choices; not for Acme's voicemail.
    factories.CompanyUserFactory(company=globex, user=staff_bob, role="manager")
    voicemail = acme_rows["voicemail"]
    theirs = globex_rows["number"]
    data = form_data(bob_client, VoicemailMessage, voicemail.pk, phone_number=theirs.pk)

    response = bob_client.post(admin_url(VoicemailMessage, "change", voicemail.pk), data)

    assert response.status_code == 200
    assert "phone_number" in response.context["adminform"].form.errors
    voicemail.refresh_from_db()
    assert voicemail.phone_number == acme_rows["number"]


def test_voicemail_services(alice, acme_rows, globex_rows):
    voicemail = acme_rows["voicemail"]
    at = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    voicemail_listened_set(voicemail=voicemail, is_listened=True, by=alice, at=at)
    voicemail.refresh_from_db()
    assert (voicemail.is_listened, voicemail.listened_by, voicemail.listened_at) == (
        True,
        alice,
        at,
    )

    with pytest.raises(ValidationError):
        voicemail_update(voicemail=voicemail, phone_number=globex_rows["number"])
    voicemail.refresh_from_db()
    assert voicemail.phone_number == acme_rows["number"]
    with pytest.raises(TypeError):
        voicemail_update(voicemail=voicemail, is_listened=False)
    voicemail_update(voicemail=voicemail, duration=9)
    voicemail.refresh_from_db()
    assert (voicemail.duration, voicemail.phone_number) == (9, acme_rows["number"])
    assert voicemail.is_listened
