"""E-mail credentials at rest: Fernet tokens keyed by ``EMAIL_ENCRYPTION_KEY`` (SCHEMA.md D3).

Several comma-separated keys (newest first) allow rotation with ``MultiFernet``: tokens made
with an older key still decrypt, and :func:`credential_rotate` re-encrypts them with the newest.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CredentialError(Exception):
    pass


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "EMAIL_ENCRYPTION_KEY is not set: e-mail credentials cannot be stored."
        )
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.EMAIL_ENCRYPTION_KEYS))


def credential_encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def credential_decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken:
        raise CredentialError(
            "The stored credential cannot be decrypted with EMAIL_ENCRYPTION_KEY."
        ) from None


def credential_rotate(token: str) -> str:
    return _current().rotate(token.encode()).decode()
