from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured, ValidationError

from hub.domain.emails import crypto
from hub.domain.emails.crypto import (
    CredentialError,
    credential_decrypt,
    credential_encrypt,
    credential_rotate,
)
from hub.domain.emails.models import EmailAccount
from hub.domain.emails.services import email_account_create, email_account_set_password

SECRET = "imap-app-password-123"


def _use_keys(settings, *keys: str) -> None:
    settings.EMAIL_ENCRYPTION_KEYS = list(keys)
    crypto._fernet.cache_clear()


def _account(company, user, **fields) -> EmailAccount:
    defaults = {
        "email": "Sales@Acme.test",
        "provider": "imap",
        "username": "sales@acme.test",
        "password": SECRET,
    }
    return email_account_create(company=company, user=user, **(defaults | fields))


def test_the_password_is_stored_as_a_fernet_token(acme, alice, email_key):
    account = _account(acme, alice)

    account.refresh_from_db()
    assert SECRET not in account.password
    assert Fernet(email_key).decrypt(account.password.encode()).decode() == SECRET
    assert credential_decrypt(account.password) == SECRET
    assert account.email == "sales@acme.test"


def test_the_oauth_token_is_encrypted_too(acme, alice, email_key):
    account = _account(acme, alice, provider="gmail", oauth_token="ya29.refresh-token")

    account.refresh_from_db()
    assert "ya29" not in account.oauth_token
    assert credential_decrypt(account.oauth_token) == "ya29.refresh-token"


def test_an_empty_password_is_refused(acme, alice, email_key):
    with pytest.raises(ValidationError):
        _account(acme, alice, password="")

    assert not EmailAccount.objects.exists()


def test_set_password_replaces_the_token(acme, alice, email_key):
    account = _account(acme, alice)
    old_token = account.password

    email_account_set_password(account=account, password="new-password")

    account.refresh_from_db()
    assert account.password != old_token
    assert credential_decrypt(account.password) == "new-password"


def test_a_new_default_account_replaces_the_old_default(acme, alice, email_key):
    first = _account(acme, alice, email="one@acme.test", is_default=True)
    second = _account(acme, alice, email="two@acme.test", is_default=True)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)


def test_an_outsiders_mailbox_cannot_be_attached_to_the_company(acme, charlie, email_key):
    with pytest.raises(ValidationError):
        _account(acme, charlie)

    assert not EmailAccount.objects.exists()


def test_each_encryption_is_a_different_token(email_key):
    assert credential_encrypt(SECRET) != credential_encrypt(SECRET)


def test_a_token_of_another_key_does_not_decrypt(settings, email_key):
    token = Fernet(Fernet.generate_key()).encrypt(SECRET.encode()).decode()

    with pytest.raises(CredentialError, match="EMAIL_ENCRYPTION_KEY"):
        credential_decrypt(token)
    with pytest.raises(CredentialError):
        credential_decrypt("not-a-token")


def test_without_a_key_nothing_is_stored(settings, acme, alice):
    _use_keys(settings)
    try:
        with pytest.raises(ImproperlyConfigured, match="EMAIL_ENCRYPTION_KEY"):
            _account(acme, alice)
    finally:
        crypto._fernet.cache_clear()

    assert not EmailAccount.objects.exists()


def test_rotation_re_encrypts_old_tokens_with_the_newest_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    try:
        _use_keys(settings, old)
        old_token = credential_encrypt(SECRET)

        _use_keys(settings, new, old)
        assert credential_decrypt(old_token) == SECRET
        rotated = credential_rotate(old_token)
        assert rotated != old_token
        assert Fernet(new).decrypt(rotated.encode()).decode() == SECRET
        assert Fernet(new).decrypt(credential_encrypt(SECRET).encode()) == SECRET.encode()

        _use_keys(settings, new)
        assert credential_decrypt(rotated) == SECRET
        with pytest.raises(CredentialError):
            credential_decrypt(old_token)

        _use_keys(settings, old)
        with pytest.raises(CredentialError):
            credential_decrypt(rotated)
    finally:
        crypto._fernet.cache_clear()


def test_rotating_a_stored_account(settings, acme, alice):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    try:
        _use_keys(settings, old)
        account = _account(acme, alice)

        _use_keys(settings, new, old)
        account.password = credential_rotate(account.password)
        account.save(update_fields=["password"])

        _use_keys(settings, new)
        account.refresh_from_db()
        assert credential_decrypt(account.password) == SECRET
    finally:
        crypto._fernet.cache_clear()
