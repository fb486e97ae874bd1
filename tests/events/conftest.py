from __future__ import annotations

import os

import pytest
from django.db import connection


@pytest.fixture
def postgres_only(db):
    if connection.vendor != "postgresql":
        if os.environ.get("CI") == "true":
            pytest.fail("this test needs PostgreSQL, and CI must run it")
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://...)")


@pytest.fixture
def conninfo(postgres_only):
    from hub.consumers.relay import database_conninfo

    return database_conninfo()
