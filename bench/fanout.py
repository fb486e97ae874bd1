"""Fan-out benchmark: N websocket clients of one company, K events, hub vs a plain baseline.

Runs the hub as deployed (PostgreSQL triggers → relay → Redis → one web process) and, in
the same run and with the same client, a plain `websockets` broadcast server. Prints
deliveries per second, fan-out time per event, commit-to-receipt latency and memory per
connection, and the hub/baseline ratio. Not a test: it measures.

    .venv/bin/python bench/fanout.py                       # N = 1000 and 5000
    .venv/bin/python bench/fanout.py --clients 1000 --server uvicorn

Sequential mode (``--mode sequential``): one writer updates one call by plain SQL
(``UPDATE calls_call SET status = ... WHERE id = ...``, then COMMIT; the trigger writes the
event, the relay fans it out), waits until every one of the N clients holds that event, then
writes the next. Prints commit-to-browser latency p50/p99 for the hub and for the plain
baseline in the same run, and their ratio, with the machine's load average beside each run:

    .venv/bin/python bench/fanout.py --mode sequential                     # N = 1000, 200 writes
    .venv/bin/python bench/fanout.py --mode sequential --clients 5000 --writes 100 --json F
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
BIN = Path(PY).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def baseline_call_payload(*, call_id: int, sid: str) -> dict:
    """A call.updated payload as the hub sends it, for the baseline server to broadcast."""
    return {
        "id": call_id,
        "twilio_call_sid": sid,
        "status": "Ringing",
        "direction": "Inbound",
        "from_number": "+14155550100",
        "to_number": "+14155550199",
        "user_id": None,
        "phone_number_id": None,
        "lead_id": None,
        "deal_id": None,
        "customer_id": None,
        "duration": None,
        "start_time": None,
        "end_time": None,
        "created_at": "2026-11-25T07:00:00.000000+00:00",
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# --- the hub's side ------------------------------------------------------------------------
def hub_env(database_url: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HUB_CHANNEL_PREFIX": f"bench{os.getpid()}",
        "SECRET_KEY": "bench-secret-key-bench-secret-key-bench-secret-key-0123456789",
        "DEBUG": "0",
        "HUB_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "HUB_WS_IDLE_TIMEOUT_SECONDS": "3600",
        "HUB_WS_RATE_BURST": "1000",
    }


def prepare_database(env: dict[str, str], users: int) -> tuple[int, list[int]]:
    """Create a scratch database with one company of ``users`` members; return ids."""
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    admin_url = env["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        owner = conn.execute(
            "INSERT INTO authentication_user (password, username, email, first_name, last_name, account_type, "
            "is_verified, is_active, is_staff, is_superuser, date_joined, created_at, updated_at) "
            "VALUES ('!', 'owner', 'owner@bench.test', 'O', 'W', 'company', true, true, false, false, now(), now(), now()) RETURNING id"
        ).fetchone()[0]
        company = conn.execute(
            "INSERT INTO authentication_company (company_name, created_by_id, is_active, created_at, updated_at) "
            "VALUES ('Bench Co', %s, true, now(), now()) RETURNING id",
            [owner],
        ).fetchone()[0]
        with conn.cursor().copy(
            "COPY authentication_user (password, username, email, first_name, last_name, account_type, is_verified, "
            "is_active, is_staff, is_superuser, date_joined, created_at, updated_at) FROM STDIN"
        ) as copy:
            for n in range(users):
                copy.write_row(
                    [
                        "!",
                        f"u{n}",
                        f"u{n}@bench.test",
                        "U",
                        str(n),
                        "company",
                        True,
                        True,
                        False,
                        False,
                        "now",
                        "now",
                        "now",
                    ]
                )
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM authentication_user WHERE username LIKE 'u%%' ORDER BY id"
            ).fetchall()
        ]
        with conn.cursor().copy(
            "COPY authentication_companyuser (user_id, company_id, role, joined_at, is_active, can_invite_users, "
            "can_manage_deals, can_view_reports, can_manage_customers) FROM STDIN"
        ) as copy:
            for uid in ids:
                copy.write_row(
                    [uid, company, "sales_manager", "now", True, False, True, True, True]
                )
    return company, ids


def token_for(user_id: int, key: str) -> str:
    import jwt

    now = int(time.time())
    claims = {
        "token_type": "access",
        "exp": now + 3600,
        "iat": now,
        "jti": f"b{user_id}{now}",
        "user_id": user_id,
    }
    return jwt.encode(claims, key, algorithm="HS256")


def start(cmd: list[str], env: dict[str, str], ready) -> subprocess.Popen:
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}")
        if ready():
            return proc
        time.sleep(0.1)
    raise RuntimeError(f"{cmd} did not start")


def web_command(server: str, port: int) -> list[str]:
    """The ``web`` process as the Procfile runs it (daphne), or uvicorn, on 127.0.0.1."""
    if server == "daphne":
        # Twisted's default listen backlog is 50: a burst of connects needs more.
        return [
            str(BIN / "daphne"),
            "-e",
            f"tcp:port={port}:interface=127.0.0.1:backlog=4096",
            "config.asgi:application",
        ]
    return [
        str(BIN / "uvicorn"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--ws-ping-interval",
        "0",
        "config.asgi:application",
    ]


def stop_processes(*procs: subprocess.Popen | None, timeout: float = 15) -> None:
    for proc in procs:
        if proc is None or proc.poll() is not None:
            continue
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def load() -> tuple[float, float, float]:
    """The machine's 1, 5 and 15 minute load averages (2 shared vCPUs: read ratios, not ms)."""
    return tuple(round(x, 2) for x in os.getloadavg())  # type: ignore[return-value]


def raise_fd_limit(needed: int) -> None:
    """Each client is a socket in this process (and one in the server's, which inherits this)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(hard, needed)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        sys.exit(
            f"RLIMIT_NOFILE is {soft}, and {needed} file descriptors are needed: raise the "
            "hard limit (ulimit -Hn) or use fewer clients"
        )


def http_ok(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


# --- the clients ---------------------------------------------------------------------------
@dataclass
class Clients:
    url: str
    origin: str
    conns: list = field(default_factory=list)
    receipts: dict[int, list[float]] = field(default_factory=dict)
    tasks: list = field(default_factory=list)
    expected: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    received: int = 0
    #: Sequential mode: ``done`` is set once ``expected`` clients hold one event whose id is
    #: above ``floor`` (the previous write's), kept in ``watched``; None: once ``expected``
    #: frames of any event have arrived.
    floor: int | None = None
    watched: int | None = None

    async def open(self, tokens: list[str], concurrency: int = 100) -> float:
        sem = asyncio.Semaphore(concurrency)
        started = time.perf_counter()

        async def one(token: str):
            async with sem:
                ws = await connect(
                    self.url,
                    origin=self.origin,
                    compression=None,
                    max_queue=None,
                    open_timeout=60,
                    ping_interval=None,
                )
                await ws.send(json.dumps({"type": "auth", "token": token}))
                hello = json.loads(await ws.recv())
                assert hello["type"] == "hello", hello
                self.conns.append(ws)

        await asyncio.gather(*(one(t) for t in tokens))
        return time.perf_counter() - started

    def listen(self) -> None:
        for ws in self.conns:
            self.tasks.append(asyncio.get_running_loop().create_task(self._read(ws)))

    async def _read(self, ws) -> None:
        receipts = self.receipts
        async for message in ws:
            now = time.time()
            start = message.find('"id":') + 5
            end = message.find(",", start)
            event_id = int(message[start:end])
            held = receipts.setdefault(event_id, [])
            held.append(now)
            self.received += 1
            if self.floor is None:
                if self.received >= self.expected:
                    self.done.set()
            elif event_id > self.floor and len(held) >= self.expected:
                self.watched = event_id
                self.done.set()

    def reset(self, expected: int, floor: int | None = None) -> None:
        self.receipts.clear()
        self.received = 0
        self.expected = expected
        self.floor = floor
        self.watched = None
        self.done.clear()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.conns), return_exceptions=True)


def summarize(
    label: str, clients: Clients, commits: dict[int, float], n: int, k: int, elapsed: float
) -> dict:
    latencies = [
        (t - commits[eid]) * 1000
        for eid, ts in clients.receipts.items()
        if eid in commits
        for t in ts
    ]
    spreads = [(max(ts) - min(ts)) * 1000 for ts in clients.receipts.values() if ts]
    deliveries = sum(len(ts) for ts in clients.receipts.values())
    return {
        "label": label,
        "clients": n,
        "events": k,
        "deliveries": deliveries,
        "expected": n * k,
        "deliveries_per_s": deliveries / elapsed if elapsed else 0,
        "fanout_ms_per_event": statistics.mean(spreads) if spreads else float("nan"),
        "latency_p50_ms": pct(latencies, 0.50),
        "latency_p99_ms": pct(latencies, 0.99),
    }


async def burst(
    clients: Clients, n: int, k: int, publish, publish_many=None
) -> tuple[dict[int, float], float]:
    """Publish k events back to back and wait until every client has them all.

    ``publish_many`` (the hub's) commits the k events from a thread of its own, so the
    producer does not wait on this process's event loop, which is busy receiving; the
    baseline's ``publish`` only writes to a socket and needs no such help.
    """
    clients.reset(n * k)
    commits: dict[int, float] = {}
    first = time.time()
    if publish_many is not None:
        commits.update(await asyncio.to_thread(publish_many, k))
    for _ in range(k if publish_many is None else 0):
        event_id, at = await publish()
        commits[event_id] = at
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(clients.done.wait(), 120)
    last = max((max(ts) for ts in clients.receipts.values() if ts), default=time.time())
    return commits, last - first


async def steady(
    clients: Clients, n: int, rate: float, seconds: float, publish
) -> dict[int, float]:
    k = int(rate * seconds)
    clients.reset(n * k)
    commits: dict[int, float] = {}
    start = time.monotonic()
    for i in range(k):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        event_id, at = await publish()
        commits[event_id] = at
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(clients.done.wait(), 60)
    return commits


# --- runs ----------------------------------------------------------------------------------
async def run_hub(args, n: int, server: str) -> dict:
    env = hub_env(args.database_url, args.redis_url)
    company, user_ids = prepare_database(env, n)
    key = env["SECRET_KEY"]
    port = free_port()
    relay = start([PY, "manage.py", "hub_relay", "--poll-interval", "1"], env, lambda: True)
    web = start(web_command(server, port), env, lambda: http_ok(port))
    result: dict = {"server": server}
    try:
        base_rss = rss_kb(web.pid)
        clients = Clients(f"ws://127.0.0.1:{port}/ws/", f"http://127.0.0.1:{port}")
        result["connect_s"] = await clients.open([token_for(u, key) for u in user_ids])
        await asyncio.sleep(1)
        result["kb_per_connection"] = (rss_kb(web.pid) - base_rss) / n
        clients.listen()
        db = psycopg.connect(env["DATABASE_URL"], autocommit=True)
        seq = iter(range(10**9))

        def publish_sync() -> tuple[str, float]:
            sid = f"CA{next(seq):032d}"
            db.execute(
                "INSERT INTO calls_call (company_id, direction, from_number, to_number, status, twilio_call_sid, "
                "price_unit, notes, created_at) VALUES (%s, 'Inbound', '+14155550100', '+14155550199', 'Ringing', %s, 'USD', '', now())",
                [company, sid],
            )
            at = time.time()  # committed (autocommit): the trigger's event is now visible
            # Keyed by the CallSid: the writer does not learn the event's id (with the outbox,
            # the relay hands ids out when it moves committed events into the log).
            return sid, at

        async def publish():
            return await asyncio.to_thread(publish_sync)

        def publish_many(k: int) -> dict[str, float]:
            return dict(publish_sync() for _ in range(k))

        def by_event_id(commits: dict[str, float]) -> dict[int, float]:
            """Commit times by event id, once the events are in the log (all were received)."""
            rows = db.execute(
                "SELECT id, payload->>'twilio_call_sid' FROM hub_event "
                "WHERE type = 'call.created' AND payload->>'twilio_call_sid' = ANY(%s)",
                [list(commits)],
            ).fetchall()
            return {event_id: commits[sid] for event_id, sid in rows}

        await burst(clients, n, 2, publish)  # warm up
        spy = None
        if args.profile:
            spy = subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "-p",
                    str(web.pid),
                    "-o",
                    args.profile,
                    "-f",
                    "raw",
                    "-r",
                    "250",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await asyncio.sleep(1)
        commits, elapsed = await burst(clients, n, args.events, publish, publish_many)
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)
        commits = by_event_id(commits)
        result |= summarize(f"hub ({server})", clients, commits, n, args.events, elapsed)
        if n == args.latency_clients:
            commits = by_event_id(await steady(clients, n, args.rate, args.seconds, publish))
            lat = summarize("", clients, commits, n, len(commits), 1)
            result["steady_rate"] = args.rate
            result["steady_p50_ms"], result["steady_p99_ms"] = (
                lat["latency_p50_ms"],
                lat["latency_p99_ms"],
            )
            result["steady_delivered"] = f"{lat['deliveries']}/{lat['expected']}"
        await clients.close()
        db.close()
    except Exception as exc:
        result["error"] = repr(exc)
        raise
    finally:
        stop_processes(web, relay)
    return result


async def run_baseline(args, n: int) -> dict:
    port = free_port()
    proc = subprocess.Popen(
        [PY, str(ROOT / "bench" / "baseline_server.py"), str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    result: dict = {"server": "websockets"}
    try:
        base_rss = rss_kb(proc.pid)
        clients = Clients(f"ws://127.0.0.1:{port}/ws/", f"http://127.0.0.1:{port}")
        result["connect_s"] = await clients.open(["t"] * n)
        await asyncio.sleep(1)
        result["kb_per_connection"] = (rss_kb(proc.pid) - base_rss) / n
        clients.listen()
        control = await connect(f"ws://127.0.0.1:{port}/publish", compression=None)
        seq = iter(range(1, 10**9))
        payload = baseline_call_payload(call_id=0, sid="CA" + "0" * 32)

        async def publish():
            event_id = next(seq)
            frame = json.dumps(
                {
                    "type": "event",
                    "id": event_id,
                    "topic": "calls",
                    "event": "call.created",
                    "data": payload | {"id": event_id},
                },
                separators=(",", ":"),
            )
            at = time.time()
            await control.send(frame)
            return event_id, at

        await burst(clients, n, 2, publish)
        commits, elapsed = await burst(clients, n, args.events, publish)
        result |= summarize("baseline (websockets)", clients, commits, n, args.events, elapsed)
        if n == args.latency_clients:
            commits = await steady(clients, n, args.rate, args.seconds, publish)
            lat = summarize("", clients, commits, n, len(commits), 1)
            result["steady_rate"] = args.rate
            result["steady_p50_ms"], result["steady_p99_ms"] = (
                lat["latency_p50_ms"],
                lat["latency_p99_ms"],
            )
            result["steady_delivered"] = f"{lat['deliveries']}/{lat['expected']}"
        await control.close()
        await clients.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return result


async def run_idle(args, n: int, server: str) -> dict:
    """Hold ``n`` idle authenticated connections on one web process and weigh them."""
    env = hub_env(args.database_url, args.redis_url)
    users = min(n, 1000)
    _, user_ids = prepare_database(env, users)
    port = free_port()
    web = start(web_command(server, port), env, lambda: http_ok(port))
    try:
        clients = Clients(f"ws://127.0.0.1:{port}/ws/", f"http://127.0.0.1:{port}")
        # Warm the process (imports, pools, dispatcher) before weighing it.
        await clients.open([token_for(u, env["SECRET_KEY"]) for u in user_ids[:50]])
        await asyncio.sleep(1)
        base_rss = rss_kb(web.pid)
        tokens = [token_for(user_ids[i % users], env["SECRET_KEY"]) for i in range(n)]
        connect_s = await clients.open(tokens)
        await asyncio.sleep(2)
        held = len(clients.conns) - 50
        return {
            "server": server,
            "idle_connections": held,
            "connect_s": connect_s,
            "kb_per_idle_connection": (rss_kb(web.pid) - base_rss) / held,
        }
    finally:
        stop_processes(web, timeout=30)


# --- sequential mode: one write at a time, commit-to-browser latency ---------------------
class Sequence:
    """One server's writes of a sequential run and what its N clients received.

    ``write()`` makes one change and returns its commit time; ``step`` makes one write and
    waits until all ``n`` clients hold its event (at most ``timeout`` s). Writes are sequential
    and each makes one event, so the write's event is the first one with an id above the
    previous write's (the writer need not know the id: with the outbox, the relay hands ids
    out). Latency is taken per delivery: receipt (when this process reads the frame) minus
    commit.
    """

    def __init__(self, clients: Clients, n: int, write, timeout: float) -> None:
        self.clients, self.n, self.write, self.timeout = clients, n, write, timeout
        self.info: dict = {}  # label, server, clients, connect time, process ids
        self.floor = 0  # the previous write's event id
        self.clear()

    def clear(self) -> None:
        self.latencies: list[float] = []
        self.first: list[float] = []  # per write: until the first client held it
        self.last: list[float] = []  # per write: until the n-th client held it
        # (event id, commit, first receipt, last receipt, receipts): for tracing the path.
        self.per_write: list[tuple[int | None, float, float | None, float | None, int]] = []
        self.delivered = self.timeouts = 0

    async def step(self) -> None:
        clients, n = self.clients, self.n
        clients.reset(n, floor=self.floor)
        at = await self.write()
        try:
            await asyncio.wait_for(clients.done.wait(), self.timeout)
        except TimeoutError:
            self.timeouts += 1
        event_id = clients.watched
        if event_id is None:  # timed out: the newest event any client got, if any
            event_id = max((i for i in clients.receipts if i > self.floor), default=None)
        held = list(clients.receipts.get(event_id, ())) if event_id is not None else []
        if event_id is not None:
            self.floor = event_id
        self.delivered += len(held)
        self.per_write.append(
            (event_id, at, min(held) if held else None, max(held) if held else None, len(held))
        )
        if held:
            self.latencies.extend((t - at) * 1000 for t in held)
            self.first.append((min(held) - at) * 1000)
            if len(held) >= n:
                self.last.append((max(held) - at) * 1000)

    def figures(self) -> dict:
        lat = self.latencies
        return {
            "writes": len(self.per_write),
            "deliveries": self.delivered,
            "expected": self.n * len(self.per_write),
            "timeouts": self.timeouts,
            "latency_p50_ms": pct(lat, 0.50),
            "latency_p99_ms": pct(lat, 0.99),
            "latency_mean_ms": statistics.fmean(lat) if lat else float("nan"),
            "first_p50_ms": pct(self.first, 0.50),
            "all_p50_ms": pct(self.last, 0.50),
            "all_p99_ms": pct(self.last, 0.99),
            "per_write": self.per_write,
        }


def relay_connected(env: dict[str, str]) -> bool:
    """The relay holds its session (it LISTENs right after connecting), so no write is missed."""
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        return bool(
            conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hub-relay' "
                "AND datname = current_database()"
            ).fetchone()[0]
        )


def py_spy(pid: int, out: str, rate: int) -> subprocess.Popen:
    """Sample a process without stopping it (``--nonblocking``), collapsed stacks to ``out``."""
    return subprocess.Popen(
        [
            *(str(BIN / "py-spy"), "record", "--nonblocking", "-f", "raw"),
            *("-r", str(rate), "-p", str(pid), "-o", out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_spies(spies: list[subprocess.Popen]) -> None:
    for spy in spies:
        spy.send_signal(2)
    for spy in spies:
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()


@contextlib.asynccontextmanager
async def hub_sequence(args, n: int, server: str):
    """The hub as the Procfile runs it, N connected clients, and its writer; yields a Sequence."""
    env = hub_env(args.database_url, args.redis_url)
    company, user_ids = prepare_database(env, n)
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        # The one call the writer updates (inserted before the processes start).
        call_id = conn.execute(
            "INSERT INTO calls_call (company_id, direction, from_number, to_number, status, twilio_call_sid, "
            "price_unit, notes, created_at) VALUES (%s, 'Inbound', '+14155550100', '+14155550199', "
            "'Ringing', %s, 'USD', '', now()) RETURNING id",
            [company, "CA" + "5" * 32],
        ).fetchone()[0]
    port = free_port()
    relay = web = db = None
    clients = Clients(f"ws://127.0.0.1:{port}/ws/", f"http://127.0.0.1:{port}")
    try:
        # As the Procfile runs them: `relay: python manage.py hub_relay` (its default poll
        # interval) and `web: daphne ...` (or uvicorn with --server uvicorn).
        relay = start([PY, "manage.py", "hub_relay"], env, lambda: relay_connected(env))
        web = start(web_command(server, port), env, lambda: http_ok(port))
        connect_s = await clients.open([token_for(u, env["SECRET_KEY"]) for u in user_ids])
        clients.listen()
        # One writer session, not in autocommit: UPDATE, then COMMIT; the commit time is read
        # as soon as COMMIT returns. It runs on this thread, which blocks: nothing else is due
        # until the event arrives, and no frame can be read (and stamped) before the commit
        # time is.
        db = psycopg.connect(env["DATABASE_URL"])
        statuses = itertools.cycle(["InProgress", "Ringing"])

        async def write() -> float:
            db.execute("UPDATE calls_call SET status = %s WHERE id = %s", [next(statuses), call_id])
            db.commit()
            at = time.time()
            if args.pause:
                await asyncio.sleep(args.pause / 1000)
            return at

        seq = Sequence(clients, n, write, args.write_timeout)
        seq.info = {
            "label": f"hub ({server})",
            "server": server,
            "clients": n,
            "connect_s": connect_s,
            "web_pid": web.pid,
            "relay_pid": relay.pid,
        }
        yield seq
    finally:
        await clients.close()
        if db is not None:
            db.close()
        stop_processes(web, relay)


@contextlib.asynccontextmanager
async def baseline_sequence(args, n: int):
    """The plain `websockets` broadcast server, N connected clients; yields a Sequence."""
    port = free_port()
    proc = subprocess.Popen(
        [PY, str(ROOT / "bench" / "baseline_server.py"), str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    clients = Clients(f"ws://127.0.0.1:{port}/ws/", f"http://127.0.0.1:{port}")
    control = None
    try:
        connect_s = await clients.open(["t"] * n)
        clients.listen()
        control = await connect(f"ws://127.0.0.1:{port}/publish", compression=None)
        ids = itertools.count(1)
        statuses = itertools.cycle(["InProgress", "Ringing"])
        payload = baseline_call_payload(call_id=1, sid="CA" + "5" * 32)

        async def write() -> float:
            # The baseline has no database: its "commit" is the moment the driver hands the
            # event to the server (as in the burst mode's baseline).
            event_id = next(ids)
            frame = json.dumps(
                {
                    "type": "event",
                    "id": event_id,
                    "topic": "calls",
                    "event": "call.updated",
                    "data": payload | {"status": next(statuses)},
                },
                separators=(",", ":"),
            )
            at = time.time()
            await control.send(frame)
            if args.pause:
                await asyncio.sleep(args.pause / 1000)
            return at

        seq = Sequence(clients, n, write, args.write_timeout)
        seq.info = {
            "label": "baseline (websockets)",
            "server": "websockets",
            "clients": n,
            "connect_s": connect_s,
        }
        yield seq
    finally:
        if control is not None:
            await control.close()
        await clients.close()
        stop_processes(proc, timeout=10)


async def measure(args, seqs: list[Sequence], n: int, rep: int) -> list[dict]:
    """Warm each up, then ``--writes`` measured writes each: one after the other, or (with
    ``--interleave``) alternating write by write, so both meet the same moment of the machine."""
    for seq in seqs:
        for _ in range(args.warmup):
            await seq.step()
        seq.clear()
    spies: list[subprocess.Popen] = []
    if args.profile:
        stem = f"{args.profile}-N{n}-run{rep}"
        for seq in seqs:
            for role in ("web", "relay"):
                if f"{role}_pid" in seq.info:
                    spies.append(
                        py_spy(seq.info[f"{role}_pid"], f"{stem}-{role}.txt", args.profile_rate)
                    )
        await asyncio.sleep(1)
    rows = []
    try:
        if args.interleave:
            before, started = load(), time.monotonic()
            for _ in range(args.writes):
                for seq in seqs:
                    await seq.step()
            after, seconds = load(), time.monotonic() - started
            for seq in seqs:
                rows.append(
                    seq.info
                    | seq.figures()
                    | {"load_before": before, "load_after": after, "seconds": seconds}
                )
        else:
            for seq in seqs:
                before, started = load(), time.monotonic()
                for _ in range(args.writes):
                    await seq.step()
                rows.append(
                    seq.info
                    | seq.figures()
                    | {
                        "load_before": before,
                        "load_after": load(),
                        "seconds": time.monotonic() - started,
                    }
                )
    finally:
        stop_spies(spies)
    for row in rows:
        row["mode"], row["rep"], row["interleaved"] = "sequential", rep, bool(args.interleave)
    return rows


def fmt_load(values) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def show_sequential(row: dict, n: int, repeat: int) -> None:
    text = (
        f"N={n} {row['label']} (run {row['rep']}/{repeat}): p50 {row['latency_p50_ms']:.1f} ms, "
        f"p99 {row['latency_p99_ms']:.1f} ms, all {n} p50 {row['all_p50_ms']:.1f} ms, "
        f"first client p50 {row['first_p50_ms']:.1f} ms, "
        f"{row['deliveries']}/{row['expected']} delivered"
    )
    if "ratio_p50" in row:
        text += f" → {row['ratio_p50']:.2f}× the baseline at p50, {row['ratio_p99']:.2f}× at p99"
    text += f"; load {fmt_load(row['load_before'])} → {fmt_load(row['load_after'])}"
    print(text, flush=True)


async def main_sequential(args, servers: list[str]) -> None:
    rows: list[dict] = []
    summary: list[str] = []
    summaries: list[dict] = []
    for n in args.clients:
        ratios: dict[str, list[tuple[float, float]]] = {server: [] for server in servers}
        for rep in range(1, args.repeat + 1):
            if args.interleave:
                # Both servers up at once, their writes alternating: one moment of the machine.
                async with contextlib.AsyncExitStack() as stack:
                    seqs = [await stack.enter_async_context(baseline_sequence(args, n))]
                    for server in servers:
                        seqs.append(await stack.enter_async_context(hub_sequence(args, n, server)))
                    found = await measure(args, seqs, n, rep)
            else:
                # Baseline and hub alternate run by run, as in the burst mode.
                async with baseline_sequence(args, n) as seq:
                    found = await measure(args, [seq], n, rep)
                for server in servers:
                    async with hub_sequence(args, n, server) as seq:
                        found += await measure(args, [seq], n, rep)
            base = found[0]
            for hub in found[1:]:
                hub["ratio_p50"] = hub["latency_p50_ms"] / base["latency_p50_ms"]
                hub["ratio_p99"] = hub["latency_p99_ms"] / base["latency_p99_ms"]
                ratios[hub["server"]].append((hub["ratio_p50"], hub["ratio_p99"]))
            for row in found:
                show_sequential(row, n, args.repeat)
            rows += found
        for server in servers:
            p50s = [r[0] for r in ratios[server]]
            p99s = [r[1] for r in ratios[server]]
            summaries.append(
                {
                    "clients": n,
                    "server": server,
                    "median_ratio_p50": statistics.median(p50s),
                    "median_ratio_p99": statistics.median(p99s),
                    "ratios_p50": p50s,
                    "ratios_p99": p99s,
                }
            )
            summary.append(
                f"N={n} {server}: commit-to-browser hub ÷ baseline, median over {args.repeat} run(s): "
                f"p50 {statistics.median(p50s):.2f}× ({', '.join(f'{r:.2f}' for r in p50s)}), "
                f"p99 {statistics.median(p99s):.2f}× ({', '.join(f'{r:.2f}' for r in p99s)})"
            )
    cols = [
        ("label", "{}"),
        ("clients", "{}"),
        ("latency_p50_ms", "{:.1f}"),
        ("latency_p99_ms", "{:.1f}"),
        ("first_p50_ms", "{:.1f}"),
        ("all_p50_ms", "{:.1f}"),
        ("all_p99_ms", "{:.1f}"),
        ("ratio_p50", "{:.2f}"),
        ("ratio_p99", "{:.2f}"),
        ("delivered", "{}"),
        ("load", "{}"),
    ]
    print_table([row | {"load": fmt_load(row["load_before"])} for row in rows], cols)
    print()
    for line in summary:
        print(line)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"mode": "sequential", "runs": rows, "summary": summaries}, indent=2)
        )


def show(rows: list[dict]) -> None:
    cols = [
        ("label", "{}"),
        ("clients", "{}"),
        ("deliveries_per_s", "{:,.0f}"),
        ("fanout_ms_per_event", "{:.1f}"),
        ("latency_p50_ms", "{:.1f}"),
        ("latency_p99_ms", "{:.1f}"),
        ("kb_per_connection", "{:.1f}"),
        ("steady_p50_ms", "{:.1f}"),
        ("steady_p99_ms", "{:.1f}"),
        ("delivered", "{}"),
    ]
    print_table(rows, cols)


def print_table(rows: list[dict], cols: list[tuple[str, str]]) -> None:
    """One line per run: the columns ``cols`` (name, format), "-" where a run has none."""
    print()
    print(" | ".join(c for c, _ in cols))
    for row in rows:
        row = row | {
            "delivered": f"{row['deliveries']}/{row['expected']}",
            "label": f"{row['label']} run {row.get('rep', 1)}",
        }
        print(" | ".join(fmt.format(row[c]) if c in row else "-" for c, fmt in cols))


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--mode",
        choices=["burst", "sequential"],
        default="burst",
        help="burst: K events back to back, then a steady rate (default); sequential: one "
        "UPDATE at a time, each waited for at all N clients, commit-to-browser latency",
    )
    parser.add_argument(
        "--clients",
        type=int,
        nargs="+",
        help="N, one or more (default: 1000 5000; --mode sequential: 1000)",
    )
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument(
        "--writes", type=int, default=200, help="sequential: measured writes per run"
    )
    parser.add_argument("--warmup", type=int, default=5, help="sequential: writes before measuring")
    parser.add_argument(
        "--write-timeout",
        type=float,
        default=10.0,
        help="sequential: seconds to wait for all N to hold one write before the next",
    )
    parser.add_argument(
        "--pause", type=float, default=0.0, help="sequential: ms between writes (default none)"
    )
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="sequential: run the baseline and the hub at once and alternate their writes one "
        "by one (the same moment of a shared machine for both), instead of one run after the other",
    )
    parser.add_argument("--server", choices=["daphne", "uvicorn", "both"], default="daphne")
    parser.add_argument(
        "--rate", type=float, default=100.0, help="events/s of the steady latency run"
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--latency-clients", type=int, default=1000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of baseline then hub per N (median reported)"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--idle", type=int, help="only hold this many idle connections and report KB per connection"
    )
    parser.add_argument(
        "--profile",
        help="record the web process with py-spy during the burst (raw output file); "
        "sequential: a prefix, the web and relay processes are recorded during the measured "
        "writes to PREFIX-N<n>-run<r>-{web,relay}.txt (collapsed stacks; figures of such a run "
        "include the sampling's cost)",
    )
    parser.add_argument(
        "--profile-rate", type=int, default=500, help="sequential: py-spy samples per second"
    )
    args = parser.parse_args()
    if args.clients is None:
        args.clients = [1000] if args.mode == "sequential" else [1000, 5000]
    if args.interleave and args.server == "both":
        # Each hub run creates (and drops) the one bench database.
        parser.error("--interleave runs one hub at a time: --server daphne or uvicorn")
    servers = ["daphne", "uvicorn"] if args.server == "both" else [args.server]
    # Every client is a socket here, and one in the server (which inherits the limit); with
    # --interleave this process holds the baseline's N and each hub's N at once.
    at_once = 1 + len(servers) if args.mode == "sequential" and args.interleave else 1
    raise_fd_limit(max([args.idle or 0, *args.clients]) * at_once + 1024)
    if args.mode == "sequential":
        await main_sequential(args, servers)
        return
    if args.idle:
        for server in servers:
            idle = await run_idle(args, args.idle, server)
            print(
                f"{server}: {idle['idle_connections']} idle connections held, {idle['kb_per_idle_connection']:.1f} KB each "
                f"(connected in {idle['connect_s']:.1f} s)",
                flush=True,
            )
        return
    rows = []
    summary = []
    for n in args.clients:
        ratios: dict[str, list[float]] = {server: [] for server in servers}
        for rep in range(1, args.repeat + 1):
            # Baseline and hub alternate, so a noisy moment of the machine hits both alike.
            load_before = load()
            base = await run_baseline(args, n)
            base["rep"], base["load_before"], base["load_after"] = rep, load_before, load()
            rows.append(base)
            for server in servers:
                load_before = load()
                hub = await run_hub(args, n, server)
                hub["rep"], hub["load_before"], hub["load_after"] = rep, load_before, load()
                hub["ratio"] = hub["deliveries_per_s"] / base["deliveries_per_s"]
                ratios[server].append(hub["ratio"])
                rows.append(hub)
                print(
                    f"N={n} {server} (run {rep}/{args.repeat}): {hub['deliveries_per_s']:,.0f} deliveries/s "
                    f"vs baseline {base['deliveries_per_s']:,.0f}/s → {hub['ratio']:.2f}×; "
                    f"load {fmt_load(base['load_before'])} → {fmt_load(hub['load_after'])}",
                    flush=True,
                )
        for server in servers:
            line = (
                f"N={n} {server}: median ratio {statistics.median(ratios[server]):.2f}× "
                f"over {args.repeat} run(s) ({', '.join(f'{r:.2f}' for r in ratios[server])})"
            )
            summary.append(line)
    show(rows)
    print()
    for line in summary:
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
