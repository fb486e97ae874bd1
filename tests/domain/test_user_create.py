from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError

from hub.domain.authentication.models import AccountType, User
from hub.domain.authentication.services import user_create

PASSWORD = "s3cret-enough"


def test_user_logs_in_with_the_email_address(db):
    user = user_create(email="Dana.Scully@Example.com", password=PASSWORD)

    assert user.email == "dana.scully@example.com"
    assert authenticate(email="dana.scully@example.com", password=PASSWORD) == user
    assert authenticate(username="dana.scully@example.com", password=PASSWORD) == user


def test_login_ignores_the_case_and_surrounding_spaces_of_the_address(db):
    user = user_create(email="dana@example.com", password=PASSWORD)

    assert authenticate(email="DANA@Example.COM", password=PASSWORD) == user
    assert authenticate(username=" Dana@example.com ", password=PASSWORD) == user


def test_login_with_a_wrong_password_or_unknown_address_fails(db):
    user_create(email="dana@example.com", password=PASSWORD)

    assert authenticate(email="dana@example.com", password="wrong-password") is None
    assert authenticate(email="nobody@example.com", password=PASSWORD) is None
    assert authenticate(email="dana@example.com", password=None) is None


def test_an_inactive_user_cannot_log_in(db):
    user = user_create(email="dana@example.com", password=PASSWORD)
    user.is_active = False
    user.save()

    assert authenticate(email="dana@example.com", password=PASSWORD) is None


def test_the_username_comes_from_the_address(db):
    user = user_create(email="fox.mulder@fbi.test", password=PASSWORD)

    assert user.username == "fox.mulder"


def test_a_taken_username_gets_a_number(db):
    first = user_create(email="fox@fbi.test", password=PASSWORD)
    second = user_create(email="fox@other.test", password=PASSWORD)
    third = user_create(email="fox@third.test", password=PASSWORD)

    assert (first.username, second.username, third.username) == ("fox", "fox2", "fox3")


def test_the_username_drops_characters_a_username_cannot_hold(db):
    user = user_create(email="o'brien!@example.com", password=PASSWORD)

    assert user.username == "obrien"
    user.full_clean()


def test_an_explicit_username_is_kept(db):
    user = user_create(email="fox@fbi.test", password=PASSWORD, username="spooky")

    assert user.username == "spooky"


@pytest.mark.parametrize("password", ["", "short", "7chars!", None])
def test_a_password_under_eight_characters_is_refused(db, password):
    with pytest.raises(ValidationError) as excinfo:
        user_create(email="dana@example.com", password=password)

    assert "at least 8 characters" in excinfo.value.message_dict["password"][0]
    assert not User.objects.filter(email="dana@example.com").exists()


def test_a_password_of_exactly_eight_characters_is_accepted(db):
    user = user_create(email="dana@example.com", password="8chars!!")

    assert user.check_password("8chars!!")


def test_the_password_is_stored_hashed(db):
    user = user_create(email="dana@example.com", password=PASSWORD)

    user.refresh_from_db()
    assert user.password != PASSWORD
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize(
    "email", ["not-an-email", "", "   ", "dana@", "@example.com", "dana@@example.com"]
)
def test_an_invalid_address_is_refused(db, email):
    with pytest.raises(ValidationError) as excinfo:
        user_create(email=email, password=PASSWORD)

    assert "email" in excinfo.value.message_dict
    assert User.objects.count() == 0


def test_an_address_already_used_in_another_case_is_refused(db):
    user_create(email="dana@example.com", password=PASSWORD)

    with pytest.raises(ValidationError) as excinfo:
        user_create(email="DANA@EXAMPLE.COM", password=PASSWORD)

    assert "already exists" in excinfo.value.message_dict["email"][0]
    assert User.objects.filter(email__iexact="dana@example.com").count() == 1


@pytest.mark.parametrize("account_type", [AccountType.COMPANY, AccountType.CUSTOMER])
def test_account_type_is_company_or_customer(db, account_type):
    user = user_create(email="dana@example.com", password=PASSWORD, account_type=account_type)

    user.refresh_from_db()
    assert user.account_type == account_type


def test_account_type_defaults_to_company(db):
    assert (
        user_create(email="dana@example.com", password=PASSWORD).account_type == AccountType.COMPANY
    )


def test_any_other_account_type_is_refused(db):
    with pytest.raises(ValidationError) as excinfo:
        user_create(email="dana@example.com", password=PASSWORD, account_type="partner")

    assert "account_type" in excinfo.value.message_dict
    assert User.objects.count() == 0


def test_create_user_of_the_manager_goes_through_the_same_rules(db):
    user = User.objects.create_user("Walter@Example.com", PASSWORD)

    assert (user.email, user.username) == ("walter@example.com", "walter")
    with pytest.raises(ValidationError):
        User.objects.create_user("someone@example.com", "short")
