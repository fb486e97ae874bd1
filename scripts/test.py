"""``make test``: choose the backends that answer, say which, and run pytest on them.

PostgreSQL at ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/hub) and Redis at
``REDIS_URL`` (default redis://127.0.0.1:6379/0) are used when they answer. Otherwise the run
falls back to SQLite and the in-memory channel layer, and says so; under ``CI=true`` a backend
that does not answer is an error instead. Arguments are passed on to pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit

from backends import (
    drop_stale_test_databases,
    masked,
    postgres_problem,
    redis_problem,
    resolve,
    tcp_problem,
)

LOCAL_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hub"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
NO_TESTS_COLLECTED = 5


class Unavailable(Exception):
    """A backend does not answer, and CI=true forbids falling back."""


def _fall_back(ci: bool, what: str, url: str, problem: str, instead: str) -> str:
    if ci:
        raise Unavailable(f"{what} does not answer at {masked(url)}: {problem}")
    return f"{what} does not answer at {masked(url)} ({problem}); using {instead} instead"


def _forget(env: dict[str, str], name: str) -> None:
    env.pop(name, None)
    env.pop(f"{name}_FILE", None)


def choose_database(env: dict[str, str], ci: bool, notes: list[str]) -> str:
    url = resolve("DATABASE_URL")
    if url and not url.startswith(("postgres", "pgsql", "postgis")):
        return f"{url.split(':', 1)[0]} ({masked(url)}, from DATABASE_URL)"
    candidate = url or LOCAL_DATABASE_URL
    problem = postgres_problem(candidate)
    if problem is None:
        env["DATABASE_URL"] = candidate
        return f"postgresql ({masked(candidate)})"
    notes.append(_fall_back(ci, "PostgreSQL", candidate, problem, "SQLite"))
    _forget(env, "DATABASE_URL")
    return "sqlite (in-memory test database)"


def choose_channel_layer(env: dict[str, str], ci: bool, notes: list[str]) -> str:
    candidate = resolve("REDIS_URL") or LOCAL_REDIS_URL
    problem = redis_problem(candidate)
    if problem is None:
        env["REDIS_URL"] = candidate
        return f"redis ({masked(candidate)})"
    notes.append(_fall_back(ci, "Redis", candidate, problem, "the in-memory channel layer"))
    _forget(env, "REDIS_URL")
    return "in-memory"


def choose_broker(env: dict[str, str], ci: bool, notes: list[str]) -> str:
    url = resolve("DRAMATIQ_BROKER_URL")
    default = "redis (follows REDIS_URL)" if env.get("REDIS_URL") else "stub (no REDIS_URL)"
    if url is None:
        return default
    is_redis = urlsplit(url).scheme.startswith("redis")
    problem = redis_problem(url) if is_redis else tcp_problem(url, default_port=5672)
    if problem is None:
        env["DRAMATIQ_BROKER_URL"] = url
        return f"{'redis' if is_redis else 'rabbitmq'} ({masked(url)})"
    notes.append(_fall_back(ci, "The Dramatiq broker", url, problem, default))
    _forget(env, "DRAMATIQ_BROKER_URL")
    return default


def main(args: list[str]) -> int:
    ci = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
    env = dict(os.environ)
    if ci:
        env["CI"] = "true"  # the tests look for exactly "true"
    notes: list[str] = []
    try:
        database = choose_database(env, ci, notes)
        layer = choose_channel_layer(env, ci, notes)
        broker = choose_broker(env, ci, notes)
    except Unavailable as exc:
        print(f"make test: error: CI=true and {exc}", file=sys.stderr)
        print(
            "make test: under CI=true every backend must answer (no fallback to SQLite or "
            "in-memory); start the service or fix its URL (.ci/run starts local PostgreSQL "
            "and Redis)",
            file=sys.stderr,
        )
        return 2
    except OSError as exc:
        print(f"make test: error: {exc}", file=sys.stderr)
        return 2

    for note in notes:
        print(f"note: {note}")
    backends = f"backends: database={database} channel layer={layer} broker={broker}"
    print(backends, flush=True)
    try:
        pytest = subprocess.run([sys.executable, "-m", "pytest", *args], env=env, check=False)  # noqa: S603
        code = pytest.returncode
    except KeyboardInterrupt:
        return 130
    if env.get("DATABASE_URL", "").startswith(("postgres", "pgsql", "postgis")):
        drop_stale_test_databases(env["DATABASE_URL"])
    if code == NO_TESTS_COLLECTED:
        print("make test: pytest collected no tests, which counts as a failure", file=sys.stderr)
        code = 1
    outcome = "passed" if code == 0 else f"FAILED (exit {code})"
    print(f"{backends}{' (CI)' if ci else ''}: {outcome}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
