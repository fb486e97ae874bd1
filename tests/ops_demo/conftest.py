"""The demo seeds with DEBUG on and a fresh encryption key, and stores an attachment through
Django's storage: into a temporary MEDIA_ROOT here."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command


@pytest.fixture(autouse=True)
def demo_settings(settings):
    settings.DEBUG = True
    settings.EMAIL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    return settings


@pytest.fixture(autouse=True)
def demo_media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def seed(*args: str) -> str:
    """Run ``manage.py seed_demo`` and return what it printed."""
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()
