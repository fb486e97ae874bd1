from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from hub.domain.calls.models import PhoneNumber
from hub.domain.calls.services import phone_normalize, phone_number_add


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(415) 555-0100", "+14155550100"),
        ("415.555.0100", "+14155550100"),
        ("+1 415 555 0100", "+14155550100"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+33 1 23 45 67 89", "+33123456789"),
    ],
)
def test_numbers_are_written_in_e164(raw, expected):
    assert phone_normalize(raw) == expected


def test_the_region_applies_to_national_numbers():
    assert phone_normalize("020 7946 0958", region="GB") == "+442079460958"


@pytest.mark.parametrize("raw", ["", "hello", "12", "+1 415"])
def test_what_is_not_a_phone_number_is_refused(raw):
    with pytest.raises(ValidationError) as excinfo:
        phone_normalize(raw)

    assert repr(raw) in excinfo.value.message_dict["phone_number"][0]


def test_phone_number_add_stores_e164_and_the_region(acme, alice):
    number = phone_number_add(
        company=acme, user=alice, phone_number="+44 20 7946 0958", twilio_phone_sid="PN1"
    )

    number.refresh_from_db()
    assert (number.phone_number, number.country_code) == ("+442079460958", "GB")


def test_phone_number_add_keeps_one_default_per_user(acme, alice):
    first = phone_number_add(
        company=acme, user=alice, phone_number="4155550100", twilio_phone_sid="PN1", is_default=True
    )
    second = phone_number_add(
        company=acme, user=alice, phone_number="4155550101", twilio_phone_sid="PN2", is_default=True
    )

    first.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)


def test_phone_number_add_refuses_a_bad_number(acme, alice):
    with pytest.raises(ValidationError):
        phone_number_add(company=acme, user=alice, phone_number="nope", twilio_phone_sid="PN1")

    assert not PhoneNumber.objects.exists()


def test_phone_number_add_refuses_an_outsider(acme, charlie):
    with pytest.raises(ValidationError):
        phone_number_add(
            company=acme, user=charlie, phone_number="4155550100", twilio_phone_sid="PN1"
        )

    assert not PhoneNumber.objects.exists()
