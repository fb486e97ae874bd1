"""Editing a phone number in the console keeps the rules of adding one."""

from __future__ import annotations

import pytest

from hub.domain.calls.models import PhoneNumber
from tests import factories
from tests.admin.helpers import admin_url, changeform_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def number(acme, alice):
    return factories.PhoneNumberFactory(company=acme, user=alice, phone_number="+14155559000")


def _post_change(client, number, **values):
    url = admin_url(PhoneNumber, "change", number.pk)
    return client.post(url, changeform_data(client.get(url)) | values)


def _errors(response) -> dict:
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


def test_an_edit_is_normalized_and_its_country_follows(superuser_client, number):
    response = _post_change(superuser_client, number, phone_number="+44 20 7946 0958")

    assert response.status_code == 302
    number.refresh_from_db()
    assert (number.phone_number, number.country_code) == ("+442079460958", "GB")


@pytest.mark.parametrize("outsider", ["other_company", "customer"])
def test_the_owner_must_be_a_member_of_the_company(superuser_client, number, charlie, outsider):
    if outsider == "customer":  # a customer of the company is no member of it
        user = factories.CustomerCompanyFactory(company=number.company).customer.user
    else:
        user = charlie

    errors = _errors(_post_change(superuser_client, number, user=user.pk))

    assert "is not a member of" in " ".join(errors["user"])
    number.refresh_from_db()
    assert number.user_id != user.pk


def test_a_number_another_company_holds_is_refused(superuser_client, number, globex, charlie):
    factories.PhoneNumberFactory(company=globex, user=charlie, phone_number="+14155559001")

    errors = _errors(_post_change(superuser_client, number, phone_number="(415) 555-9001"))

    assert "another company" in " ".join(errors["phone_number"])
    number.refresh_from_db()
    assert number.phone_number == "+14155559000"


def test_reactivating_a_number_another_company_took_is_refused(
    superuser_client, number, globex, charlie
):
    PhoneNumber.objects.filter(pk=number.pk).update(is_active=False)
    factories.PhoneNumberFactory(company=globex, user=charlie, phone_number=number.phone_number)

    errors = _errors(_post_change(superuser_client, number, is_active="on"))

    assert "another company" in " ".join(errors["phone_number"])
    number.refresh_from_db()
    assert not number.is_active


def test_a_new_default_replaces_the_owners_old_one(superuser_client, number, acme, alice):
    old = factories.PhoneNumberFactory(company=acme, user=alice, is_default=True)

    assert _post_change(superuser_client, number, is_default="on").status_code == 302

    number.refresh_from_db()
    old.refresh_from_db()
    assert (number.is_default, old.is_default) == (True, False)


def test_adding_a_number_another_company_holds_is_a_form_error(
    bob_client, staff_bob, acme, globex, charlie
):
    factories.PhoneNumberFactory(company=globex, user=charlie, phone_number="+14155559002")
    url = admin_url(PhoneNumber, "add")
    data = changeform_data(bob_client.get(url)) | {
        "company": acme.pk,
        "user": staff_bob.pk,
        "phone_number": "+1 415 555 9002",
        "number_type": "VoIP",
        "twilio_phone_sid": "PN" + "2" * 32,
    }

    errors = _errors(bob_client.post(url, data))

    assert "another company" in " ".join(errors["phone_number"])
    assert not PhoneNumber.objects.filter(company=acme).exists()
