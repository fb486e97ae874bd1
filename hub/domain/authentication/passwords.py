"""The hub's password rule (the CRM's): at least MIN_PASSWORD_LENGTH characters."""

from __future__ import annotations

from django.core.exceptions import ValidationError

MIN_PASSWORD_LENGTH = 8


def password_validate(*, password: str | None) -> None:
    if password is None or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            {"password": f"The password must be at least {MIN_PASSWORD_LENGTH} characters long."}
        )
