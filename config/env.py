"""Typed readers for settings that come from the environment.

Every setting is read once, here or in ``config.settings``. A missing or malformed value raises
:class:`EnvError`, whose message is one line naming the variable; ``manage.py`` and
``config.asgi`` print that line and exit instead of showing a traceback.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class EnvError(Exception):
    """A setting in the environment is missing or malformed."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None:
        file_name = os.environ.get(f"{name}_FILE")
        if file_name:
            try:
                value = Path(file_name).read_text().strip()
            except OSError as exc:
                raise EnvError(f"{name}_FILE", f"cannot read {file_name}: {exc.strerror}") from exc
    return value


def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read a secret from ``NAME`` or from the file named by ``NAME_FILE``."""
    return env_str(name, default)


def env_required(name: str, *, why: str) -> str:
    value = env_str(name)
    if value is None:
        raise EnvError(name, f"is required ({why})")
    return value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise EnvError(name, f"expected a boolean (1/0, true/false, yes/no), got {value!r}")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise EnvError(name, f"expected an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise EnvError(name, f"must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise EnvError(name, f"must be at most {maximum}, got {number}")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise EnvError(name, f"expected a number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise EnvError(name, f"must be at least {minimum}, got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def masked_url(url: str) -> str:
    """Return ``url`` with any password in it replaced by ``***``, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    # The last "@" before any query ends the user info, even when the password holds "/" or "@".
    authority_and_path = re.split(r"[?#]", rest, maxsplit=1)[0]
    userinfo, at, _ = authority_and_path.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{rest[len(userinfo) + 1 :]}"


def env_url(name: str, default: str | None = None, *, schemes: tuple[str, ...]) -> str | None:
    value = env_str(name, default)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in schemes or not (parts.netloc or parts.path):
        expected = ", ".join(f"{scheme}://" for scheme in schemes)
        raise EnvError(name, f"expected a URL starting with {expected}, got {masked_url(value)!r}")
    return value
