"""Whether PostgreSQL, Redis and a broker answer, checked with the project's own clients.

Used by scripts/test.py, and from the command line by .ci/run:

    python scripts/backends.py ensure-database postgres://postgres@127.0.0.1:5432/hub

creates the URL's database when it is missing. Exit status: 0 when it exists, 3 when the
server refused the login (so the caller may fix the server's authentication), 1 otherwise.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

TIMEOUT_SECONDS = 3
AUTH_FAILURES = ("authentication failed", "no password supplied", "pg_hba.conf")


def resolve(name: str) -> str | None:
    """Read ``NAME``, or the file named by ``NAME_FILE``, as config/env.py does."""
    value = os.environ.get(name)
    if value is None and os.environ.get(f"{name}_FILE"):
        value = Path(os.environ[f"{name}_FILE"]).read_text().strip()
    return value or None


def masked(url: str) -> str:
    """Return the URL with its password hidden, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _libpq_url(url: str) -> str:
    # dj-database-url also accepts pgsql:// and postgis://; libpq knows only postgres(ql)://.
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme in ("pgsql", "postgis") else url


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _postgres_connect(url: str, dbname: str | None = None):
    import psycopg
    from psycopg.conninfo import make_conninfo

    extra = {"dbname": dbname} if dbname else {}
    conninfo = make_conninfo(_libpq_url(url), connect_timeout=TIMEOUT_SECONDS, **extra)
    return psycopg.connect(conninfo, autocommit=True)


def postgres_problem(url: str) -> str | None:
    """Return why PostgreSQL does not answer at ``url``, or None when it does.

    A server that answers but lacks the URL's database counts as answering: the test
    run creates its own test database through the server's ``postgres`` database.
    """
    import psycopg

    try:
        with _postgres_connect(url) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        problem = _one_line(exc)
        if "does not exist" not in problem or "database" not in problem:
            return problem
        try:
            with _postgres_connect(url, dbname="postgres") as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return problem
    return None


def drop_stale_test_databases(url: str) -> list[str]:
    """Drop the test databases (``test_<name>_<pid>``) of test runs no longer running.

    pytest-django drops its database at the end of a run, but not when a process it started
    (a daphne, a relay) still holds a connection then; this sweeps what such runs left.
    """
    import re

    import psycopg

    name = urlsplit(url).path.lstrip("/") or "postgres"
    pattern = re.compile(rf"test_{re.escape(name)}_(\d+)")
    dropped = []
    try:
        with _postgres_connect(url, dbname="postgres") as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'")
            for (datname,) in rows.fetchall():
                match = pattern.fullmatch(datname)
                if match is None or _running(int(match[1])):
                    continue
                conn.execute(f'DROP DATABASE IF EXISTS "{datname}" WITH (FORCE)')
                dropped.append(datname)
    except psycopg.Error:
        pass  # housekeeping only: never fail a test run over it
    return dropped


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def redis_problem(url: str) -> str | None:
    """Return why Redis does not answer a PING at ``url``, or None when it does."""
    import redis

    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
        )
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError) as exc:
        return _one_line(exc)
    return None


def tcp_problem(url: str, default_port: int) -> str | None:
    """Return why nothing accepts a TCP connection at the URL's host and port, or None."""
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=TIMEOUT_SECONDS
        ):
            pass
    except OSError as exc:
        return _one_line(exc)
    return None


def ensure_database(url: str) -> int:
    import psycopg
    from psycopg import sql

    dbname = urlsplit(url).path.lstrip("/")
    if not dbname:
        print(f"error: {masked(url)} names no database", file=sys.stderr)
        return 1
    try:
        with _postgres_connect(url, dbname="postgres") as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [dbname]
            ).fetchone()
            if found:
                print(f"database {dbname} exists")
            else:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
                print(f"database {dbname} created")
    except psycopg.Error as exc:
        problem = _one_line(exc)
        print(f"error: PostgreSQL at {masked(url)}: {problem}", file=sys.stderr)
        return 3 if any(text in problem for text in AUTH_FAILURES) else 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "ensure-database":
        print("usage: backends.py ensure-database POSTGRES_URL", file=sys.stderr)
        return 2
    return ensure_database(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
