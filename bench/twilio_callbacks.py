"""Twilio callback benchmark: signed status callbacks into the hub as deployed, vs a baseline.

The hub runs as in production: daphne (web) + ``rundramatiq`` (worker) + ``hub_relay``, on
PostgreSQL + Redis. Signed status callbacks (each one a new call to the company's number, so
each yields one ``call.created`` push) are posted at a steady rate; a websocket client of the
company measures callback-to-browser latency. Then a burst (default 400/s for 10 s) counts
callbacks stored vs sent and any 5xx. The baseline, measured in the same run with the same
client, is ``bench/twilio_baseline.py``: a minimal synchronous Django view on daphne that
verifies the signature, inserts a row and pushes to Redis. Not a test: it measures.

    .venv/bin/python bench/twilio_callbacks.py                    # 100/s and 200/s, burst 400/s
    .venv/bin/python bench/twilio_callbacks.py --rates 200 --seconds 20 --json var/twilio.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.parse
from pathlib import Path

import aiohttp
import psycopg
import redis
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout import BIN, PY, ROOT, free_port, http_ok, pct, start, token_for

ACCOUNT_SID = "AC" + "be" * 16
AUTH_TOKEN = "bench-twilio-auth-token"  # noqa: S105 - a bench-only secret
NUMBER = "+14155559000"


def env_for(args, port: int) -> dict[str, str]:
    broker = urllib.parse.urlsplit(args.redis_url)._replace(path="/13").geturl()
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DRAMATIQ_BROKER_URL": broker,
        "HUB_CHANNEL_PREFIX": f"benchtwl{os.getpid()}",
        "SECRET_KEY": "bench-secret-key-bench-secret-key-bench-secret-key-0123456789",
        "DEBUG": "0",
        "HUB_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "HUB_WS_IDLE_TIMEOUT_SECONDS": "3600",
        "BENCH_DATABASE_URL": args.database_url,
        "BENCH_REDIS_URL": broker,
    }


def prepare_database(env: dict[str, str]) -> int:
    """A scratch database with one company, its owner and its number; return the owner's id."""
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    admin_url = env["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    import subprocess

    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        owner = conn.execute(
            "INSERT INTO authentication_user (password, username, email, first_name, "
            "last_name, account_type, is_verified, is_active, is_staff, is_superuser, "
            "date_joined, created_at, updated_at) VALUES ('!', 'owner', 'owner@bench.test', "
            "'O', 'W', 'company', true, true, false, false, now(), now(), now()) RETURNING id"
        ).fetchone()[0]
        company = conn.execute(
            "INSERT INTO authentication_company (company_name, created_by_id, is_active, "
            "created_at, updated_at) VALUES ('Bench Co', %s, true, now(), now()) RETURNING id",
            [owner],
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO authentication_companyuser (user_id, company_id, role, joined_at, "
            "is_active, can_invite_users, can_manage_deals, can_view_reports, "
            "can_manage_customers) VALUES (%s, %s, 'ceo', now(), true, true, true, true, true)",
            [owner, company],
        )
        conn.execute(
            "INSERT INTO calls_phonenumber (company_id, user_id, phone_number, country_code, "
            "number_type, provider, twilio_phone_sid, is_active, is_default, capabilities, "
            "monthly_cost, purchased_at, created_at) VALUES (%s, %s, %s, 'US', 'VoIP', 'Twilio', "
            "'PN0', true, true, '{}', 0, now(), now())",
            [company, owner, NUMBER],
        )
        conn.execute(
            "CREATE TABLE bench_baseline_callback (id bigserial PRIMARY KEY, params jsonb NOT NULL)"
        )
    return owner


#: --mix lifecycle: each call reports these, in order (Twilio's string, the status pushed).
LIFECYCLE = (
    ("initiated", "Initiated"),
    ("ringing", "Ringing"),
    ("in-progress", "InProgress"),
    ("completed", "Completed"),
)
#: Calls in flight at once with --mix lifecycle: one call's callbacks come WINDOW posts apart.
WINDOW = 50


class Poster:
    """Posts signed status callbacks and times the answers.

    ``mix="new"``: each callback is a new call (ringing): the costliest kind, one
    ``call.created`` push each. ``mix="lifecycle"``: each call reports initiated, ringing,
    in-progress and completed, ``WINDOW`` calls interleaved, as a busy line's callbacks arrive;
    one push per status change.
    """

    def __init__(
        self, port: int, session: aiohttp.ClientSession, label: str, database: str, mix: str
    ) -> None:
        self.url = f"http://127.0.0.1:{port}/twilio/voice/status"
        self.cpu_groups = cpu_groups(port, database)
        self.session = session
        self.validator = RequestValidator(AUTH_TOKEN)
        self.label = label
        self.mix = mix
        self.seq = 0
        self.base_seq = 0
        self.base_call = 0
        self.last_call = 0
        #: "<CallSid>/<status pushed>" → (seq, time sent)
        self.sent_at: dict[str, tuple[int, float]] = {}
        self.answers: list[float] = []
        self.statuses: dict[int, int] = {}

    def params(self) -> tuple[str, dict[str, str]]:
        self.seq += 1
        if self.mix == "lifecycle":
            block, offset = divmod(self.seq - 1 - self.base_seq, WINDOW * len(LIFECYCLE))
            step, slot = divmod(offset, WINDOW)
            call_no = self.base_call + block * WINDOW + slot + 1
        else:
            step, call_no = 1, self.base_call + self.seq - self.base_seq
        self.last_call = max(self.last_call, call_no)
        twilio_status, pushed = LIFECYCLE[step]
        sid = f"CA{os.getpid():08x}{self.label[:4].encode().hex():0>8}{call_no:016x}"
        params = {
            "AccountSid": ACCOUNT_SID,
            "CallSid": sid,
            "CallStatus": twilio_status,
            "SequenceNumber": str(step),
            "Direction": "inbound",
            "From": "+14155550100",
            "To": NUMBER,
            "ApiVersion": "2010-04-01",
        }
        if twilio_status == "completed":
            params["CallDuration"] = "30"
        return f"{sid}/{pushed}", params

    async def post_one(self) -> None:
        key, params = self.params()
        headers = {"X-Twilio-Signature": self.validator.compute_signature(self.url, params)}
        started = time.perf_counter()
        self.sent_at[key] = (self.seq, time.time())
        try:
            async with self.session.post(self.url, data=params, headers=headers) as response:
                await response.read()
                status = response.status
        except aiohttp.ClientError:
            status = 0
        self.answers.append((time.perf_counter() - started) * 1000)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    async def steady(self, rate: float, seconds: float) -> float:
        self.answers.clear()
        self.statuses.clear()
        # Each phase starts with new calls, so no call straddles two phases.
        self.base_seq, self.base_call = self.seq, self.last_call
        tasks = []
        start_at = time.monotonic()
        for i in range(int(rate * seconds)):
            delay = start_at + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.post_one()))
        await asyncio.gather(*tasks)
        return time.monotonic() - start_at


class Browser:
    """A websocket client of the company: when did each call's first push arrive."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.task: asyncio.Task | None = None

    async def open(self, port: int, token: str) -> None:
        self.ws = await connect(
            f"ws://127.0.0.1:{port}/ws/", origin=f"http://127.0.0.1:{port}", max_queue=None
        )
        await self.ws.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(await self.ws.recv())["type"] == "hello"
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            now = time.time()
            frame = json.loads(message)
            if frame.get("type") == "event" and frame.get("topic") == "calls":
                data = frame["data"]
                self.seen.setdefault(f"{data['twilio_call_sid']}/{data['status']}", now)

    async def wait_for(self, keys, timeout: float = 60, settle: float = 5) -> None:
        """Until every key was pushed, or nothing new came for ``settle`` s (a status applied
        after a later one changes nothing, so it is never pushed), or ``timeout``."""
        deadline = time.monotonic() + timeout
        last_count, last_change = -1, time.monotonic()
        while time.monotonic() < deadline and not all(k in self.seen for k in keys):
            if len(self.seen) != last_count:
                last_count, last_change = len(self.seen), time.monotonic()
            elif time.monotonic() - last_change > settle:
                return
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        await self.ws.close()


def figures(poster: Poster, elapsed: float, browser: Browser | None, sids) -> dict:
    ok = sum(n for s, n in poster.statuses.items() if 200 <= s < 300)
    row = {
        "label": poster.label,
        "sent": sum(poster.statuses.values()),
        "accepted_per_s": ok / elapsed if elapsed else 0.0,
        "answer_p50_ms": pct(poster.answers, 0.50),
        "answer_p99_ms": pct(poster.answers, 0.99),
        "5xx": sum(n for s, n in poster.statuses.items() if s >= 500 or s == 0),
        "statuses": {str(s or "no answer"): n for s, n in sorted(poster.statuses.items())},
    }
    if browser is not None:
        lat = [(browser.seen[k] - poster.sent_at[k][1]) * 1000 for k in sids if k in browser.seen]
        row |= {
            "push_p50_ms": pct(lat, 0.50),
            "push_p99_ms": pct(lat, 0.99),
            "pushed": f"{len(lat)}/{len(sids)}",
        }
    return row


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_groups(port: int, database: str) -> tuple[tuple[str, str], ...]:
    """Each part of the run, and a string only its processes' command lines hold."""
    return (
        ("web", f"tcp:port={port}:"),
        ("web", f"--port {port} "),
        ("worker", "rundramatiq"),
        ("worker", "dramatiq "),
        ("relay", "hub_relay"),
        ("postgres", f": postgres {database} "),
        ("redis", "redis-server"),
        ("client", "twilio_callbacks.py"),
    )


def cpu_seconds(groups) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each part of ``groups`` (see cpu_groups)."""
    totals = dict.fromkeys((name for name, _ in groups), 0.0)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        for name, marker in groups:
            if marker in cmdline:
                totals[name] += (int(stat[11]) + int(stat[12])) / _TICK
                break
    return totals


def cpu_per_callback(before: dict[str, float], after: dict[str, float], count: int) -> dict:
    """CPU milliseconds per callback, by part, between two cpu_seconds() readings."""
    used = {k: (after[k] - before[k]) * 1000 / max(count, 1) for k in after}
    return {k: round(v, 2) for k, v in used.items()} | {"total": round(sum(used.values()), 2)}


def stored(env: dict[str, str], table: str) -> int:
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


def unprocessed(env: dict[str, str]) -> int:
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM hub_twilio_callback WHERE processed_at IS NULL"
        ).fetchone()[0]


def daphne(port: int, app: str) -> list[str]:
    return [str(BIN / "daphne"), "-e", f"tcp:port={port}:interface=127.0.0.1:backlog=4096", app]


def uvicorn(port: int, app: str) -> list[str]:
    """The optional web server (docs/processes.md), for comparison."""
    return [
        str(BIN / "uvicorn"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backlog",
        "4096",
        "--no-access-log",
        "--log-level",
        "warning",
        "--ws-ping-interval",
        "0",
        app,
    ]


def stop(procs) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(15)
        except Exception:
            proc.kill()


async def run_rates(poster: Poster, args, browser: Browser | None) -> list[dict]:
    rows = []
    await poster.steady(50, 1)  # warm up
    for rate in args.rates:
        first = poster.seq + 1
        cpu_before = cpu_seconds(poster.cpu_groups)
        elapsed = await poster.steady(rate, args.seconds)
        sids = [key for key, (seq, _) in poster.sent_at.items() if seq >= first]
        if browser is not None:
            await browser.wait_for(sids, 30)
        cpu = cpu_per_callback(cpu_before, cpu_seconds(poster.cpu_groups), len(sids))
        rows.append(figures(poster, elapsed, browser, sids) | {"rate": rate, "cpu_ms": cpu})
        print(f"  {poster.label} at {rate}/s: {rows[-1]}", flush=True)
    return rows


async def run_burst(poster: Poster, args, env, table: str) -> dict:
    before = stored(env, table)
    elapsed = await poster.steady(args.burst_rate, args.burst_seconds)
    row = figures(poster, elapsed, None, []) | {"rate": f"burst {args.burst_rate}"}
    row["stored"] = f"{stored(env, table) - before}/{row['sent']}"
    print(f"  {poster.label} burst: {row}", flush=True)
    return row


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", type=float, nargs="+", default=[100.0, 200.0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--burst-rate", type=float, default=400.0)
    parser.add_argument("--burst-seconds", type=float, default=10.0)
    parser.add_argument("--worker-threads", type=int, default=8)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="HUB_TWILIO_BATCH_SIZE of the worker (default: the setting's own default)",
    )
    parser.add_argument(
        "--web", choices=("daphne", "uvicorn"), default="daphne", help="the hub's web server"
    )
    parser.add_argument(
        "--mix",
        choices=("new", "lifecycle"),
        default="new",
        help="new: each callback a new call (the costliest); lifecycle: 4 status callbacks per call",
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="run the worker at this niceness (the Procfile's worker line decides in production)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_twilio"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    port, base_port = free_port(), free_port()
    env = env_for(args, port)
    if args.batch_size is not None:
        env["HUB_TWILIO_BATCH_SIZE"] = str(args.batch_size)
    owner = prepare_database(env)
    database = env["DATABASE_URL"].rsplit("/", 1)[1]
    broker = redis.Redis.from_url(env["DRAMATIQ_BROKER_URL"])
    # Left by an earlier run: its queues, and its drain doorbell (which would hold back ours).
    for pattern in ("dramatiq:twilio*", "dramatiq:hub-twilio-*"):
        for key in broker.scan_iter(pattern):
            broker.delete(key)
    rows: list[dict] = []
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        # The baseline first, alone on the machine.
        base_env = env | {"HUB_PUBLIC_URL": f"http://127.0.0.1:{base_port}"}
        baseline = start(
            daphne(base_port, "bench.twilio_baseline:application"),
            base_env,
            lambda: _port_open(base_port),
        )
        try:
            poster = Poster(base_port, session, "baseline", database, args.mix)
            rows += await run_rates(poster, args, None)
            rows.append(await run_burst(poster, args, env, "bench_baseline_callback"))
        finally:
            stop([baseline])

        relay = start([PY, "manage.py", "hub_relay", "--poll-interval", "1"], env, lambda: True)
        nice = ["nice", "-n", str(args.worker_nice)] if args.worker_nice else []
        worker = start(
            [
                *nice,
                PY,
                "manage.py",
                "rundramatiq",
                "--processes",
                "1",
                "--threads",
                str(args.worker_threads),
                "--queues",
                "twilio",
            ],
            env,
            lambda: True,
        )
        server = uvicorn if args.web == "uvicorn" else daphne
        web = start(server(port, "config.asgi:application"), env, lambda: http_ok(port))
        browser = Browser()
        try:
            await browser.open(port, token_for(owner, env["SECRET_KEY"]))
            poster = Poster(port, session, "hub", database, args.mix)
            rows += await run_rates(poster, args, browser)
            rows.append(await run_burst(poster, args, env, "hub_twilio_callback"))
            deadline = time.monotonic() + 120
            while unprocessed(env) and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            rows[-1]["unprocessed_after"] = unprocessed(env)
            await browser.close()
        finally:
            stop([web, worker, relay])
    show(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def show(rows: list[dict]) -> None:
    cols = [
        ("label", "{}"),
        ("rate", "{}"),
        ("accepted_per_s", "{:.0f}"),
        ("answer_p50_ms", "{:.1f}"),
        ("answer_p99_ms", "{:.1f}"),
        ("push_p50_ms", "{:.1f}"),
        ("push_p99_ms", "{:.1f}"),
        ("pushed", "{}"),
        ("stored", "{}"),
        ("5xx", "{}"),
    ]
    print()
    print(" | ".join(c for c, _ in cols))
    for row in rows:
        print(" | ".join(fmt.format(row[c]) if c in row else "-" for c, fmt in cols))


if __name__ == "__main__":
    asyncio.run(main())
