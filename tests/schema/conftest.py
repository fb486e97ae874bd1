"""Scratch PostgreSQL databases for the schema tests, one set per test module.

The tests need a real PostgreSQL server. Under ``CI=true`` one that does not answer fails them;
elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from psycopg import sql

from tests.schema.helpers import manage_ok

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"


def _server_url() -> str:
    """Return the test database's server when the suite runs on PostgreSQL, else the local default."""
    if not settings.DATABASE_IS_POSTGRES:
        return DEFAULT_SERVER
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """Return the PostgreSQL server's URL (no database name), or fail/skip when it does not answer."""
    server = _server_url()
    try:
        with psycopg.connect(f"{server}/postgres", connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        where = server.rsplit("@", 1)[-1]
        if os.environ.get("CI") == "true":
            pytest.fail(f"the schema tests need PostgreSQL at {where}, and CI must run them: {exc}")
        pytest.skip(f"the schema tests need PostgreSQL at {where} ({exc})")
    return server


class ScratchDatabases:
    """Create ``hub_schema_*`` databases on the server and drop them all afterwards."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.names: list[str] = []

    def url(self, name: str) -> str:
        return f"{self.server}/{name}"

    def create(self, purpose: str, *, template: str | None = None) -> str:
        name = f"hub_schema_{purpose}_{os.getpid()}"
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(create)
        self.names.append(name)
        return self.url(name)

    def drop_all(self) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            for name in reversed(self.names):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
        self.names.clear()


@pytest.fixture(scope="session")
def migrated_template(postgres_server) -> Iterator[str]:
    """Return the name of a database the hub's ``migrate`` built; never connected to after that."""
    databases = ScratchDatabases(postgres_server)
    url = databases.create("template")
    manage_ok(url, "migrate", "--noinput")
    yield url.rsplit("/", 1)[-1]
    databases.drop_all()


@pytest.fixture(scope="module")
def scratch(postgres_server) -> Iterator[ScratchDatabases]:
    databases = ScratchDatabases(postgres_server)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="module")
def migrated_database(scratch, migrated_template, request) -> str:
    """Return the URL of this module's own copy of a freshly migrated database."""
    return scratch.create(
        request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"), template=migrated_template
    )
