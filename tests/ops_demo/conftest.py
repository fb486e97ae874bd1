"""The demo stores an attachment through Django's storage: into a temporary MEDIA_ROOT here."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def demo_media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"
