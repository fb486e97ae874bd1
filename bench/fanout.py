"""Fan-out benchmark: N websocket clients of one company, K events, hub vs a plain baseline.

Runs the hub as deployed (PostgreSQL triggers → relay → Redis → one web process) and, in
the same run and with the same client, a plain `websockets` broadcast server. Prints
deliveries per second, fan-out time per event, commit-to-receipt latency and memory per
connection, and the hub/baseline ratio. Not a test: it measures.

    .venv/bin/python bench/fanout.py                       # N = 1000 and 5000
    .venv/bin/python bench/fanout.py --clients 1000 --server uvicorn
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
            receipts.setdefault(event_id, []).append(now)
            self.received += 1
            if self.received >= self.expected:
                self.done.set()

    def reset(self, expected: int) -> None:
        self.receipts.clear()
        self.received = 0
        self.expected = expected
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
    if server == "daphne":
        # Twisted's default listen backlog is 50: a burst of connects needs more.
        cmd = [
            str(BIN / "daphne"),
            "-e",
            f"tcp:port={port}:interface=127.0.0.1:backlog=4096",
            "config.asgi:application",
        ]
    else:
        cmd = [
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
    web = start(cmd, env, lambda: http_ok(port))
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

        def publish_sync() -> tuple[int, float]:
            sid = f"CA{next(seq):032d}"
            db.execute(
                "INSERT INTO calls_call (company_id, direction, from_number, to_number, status, twilio_call_sid, "
                "price_unit, notes, created_at) VALUES (%s, 'Inbound', '+14155550100', '+14155550199', 'Ringing', %s, 'USD', '', now())",
                [company, sid],
            )
            at = time.time()  # committed (autocommit): the trigger's event is now visible
            # The id the trigger just took, in this session.
            event_id = db.execute(
                "SELECT currval(pg_get_serial_sequence('hub_event', 'id'))"
            ).fetchone()[0]
            return event_id, at

        async def publish():
            return await asyncio.to_thread(publish_sync)

        def publish_many(k: int) -> dict[int, float]:
            return dict(publish_sync() for _ in range(k))

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
        result |= summarize(f"hub ({server})", clients, commits, n, args.events, elapsed)
        if n == args.latency_clients:
            commits = await steady(clients, n, args.rate, args.seconds, publish)
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
        for proc in (web, relay):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
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
        payload = {
            "id": 0,
            "twilio_call_sid": "CA" + "0" * 32,
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
    if server == "daphne":
        cmd = [
            str(BIN / "daphne"),
            "-e",
            f"tcp:port={port}:interface=127.0.0.1:backlog=4096",
            "config.asgi:application",
        ]
    else:
        cmd = [
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
    web = start(cmd, env, lambda: http_ok(port))
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
        web.terminate()
        try:
            web.wait(30)
        except subprocess.TimeoutExpired:
            web.kill()


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
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--events", type=int, default=20)
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
        "--profile", help="record the web process with py-spy during the burst (raw output file)"
    )
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    servers = ["daphne", "uvicorn"] if args.server == "both" else [args.server]
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
            base = await run_baseline(args, n)
            base["rep"] = rep
            rows.append(base)
            for server in servers:
                hub = await run_hub(args, n, server)
                hub["rep"] = rep
                hub["ratio"] = hub["deliveries_per_s"] / base["deliveries_per_s"]
                ratios[server].append(hub["ratio"])
                rows.append(hub)
                print(
                    f"N={n} {server} (run {rep}/{args.repeat}): {hub['deliveries_per_s']:,.0f} deliveries/s "
                    f"vs baseline {base['deliveries_per_s']:,.0f}/s → {hub['ratio']:.2f}×",
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
