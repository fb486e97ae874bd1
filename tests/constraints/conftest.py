"""Tests marked ``postgres`` skip on SQLite with the reason, and fail instead under CI=true."""

from __future__ import annotations

import os

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _postgres_marker(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        if os.environ.get("CI") == "true":
            pytest.fail("this test needs PostgreSQL, and CI must run it")
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://...)")
