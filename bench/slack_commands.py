"""Slack command benchmark: signed ``/deal list`` and ``/deal move`` at a steady rate, vs a baseline.

The hub runs as deployed: the production ASGI app (``config.asgi:application``) on daphne, as
the Procfile's ``web`` line serves it, and ``rundramatiq`` as its ``worker`` line runs it (for
any job a listener enqueues), on PostgreSQL + Redis. Slack commands, signed exactly as Slack
signs them (v0 HMAC of ``v0:<timestamp>:<body>``), are posted to ``/slack/events`` at a steady
rate; the figure is the time to the HTTP answer, which with ``process_before_response=True`` is
the listener's whole work. Slack waits 3 s for that answer, so the share answered within 3 s
is printed beside p50/p99.

The workspace is installed and the member's Slack user linked (``SlackUserLink``) before the
run, so no command needs a Slack Web API call. ``SLACK_API_URL`` points at the loopback fake of
``tests/slack/fake_slack.py`` all the same (as do the commands' ``response_url``), so a stray
call is counted in ``slack_calls``, never sent to slack.com.

The baseline, measured in the same run with the same client: a minimal Bolt app (slack_bolt
``App`` with ``process_before_response=True``, the same signing secret and an ``authorize``
that returns at once) answering a fixed text to ``/deal``, served the same way as the hub:
daphne, Django's ASGI handler and Bolt's Django adapter (``SlackRequestHandler``), because that
is how the hub serves ``/slack/events`` (hub/bots/views.py). Bolt's own HTTP server would be a
different server (a thread per request, no ASGI), so the ratio would mix the server's cost
into the hub's. What the ratio shows is the hub's own work per command: its middleware, the
installation and member look-ups, the permission check, the reads, the write and the answer.
It is built by this module's ``__getattr__`` when daphne imports
``bench.slack_commands:baseline_application``.

    .venv/bin/python bench/slack_commands.py                         # 20/s for 30 s, list and move
    .venv/bin/python bench/slack_commands.py --command move --rate 40 --seconds 15 --json F

Targets (issue #11): at 20 commands/s, p99 ≤ 2× the baseline's and 100 % answered within 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIGNING_SECRET = "bench-slack-signing-secret-5e0c"  # noqa: S105 - a bench-only secret
TEAM_ID, SLACK_USER_ID = "TBENCH0001", "UBENCHOWNER"
BOT_TOKEN = "xoxb-bench-0001"  # noqa: S105 - a token only the fake Slack knows
FIXED_TEXT = "Deals: nothing to see here (baseline)."
STAGES_TYPED = ("proposal", "negotiation")  # as a member types them; every move changes stage
SLACK_WAIT_MS = 3000.0
HUB_ERROR_MARK = "ran into an error"


# -- the baseline app (built in daphne's process) ---------------------------------------------


def _baseline() -> dict[str, Any]:
    """The minimal Bolt app on Django's ASGI handler, and its URL patterns."""
    # Imported here: only daphne's process serving the baseline needs Django and Bolt this way,
    # and settings.configure must run before anything of Django's is set up.
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-baseline",  # noqa: S106
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        DATABASES={},
    )
    django.setup()
    from django.core.asgi import get_asgi_application
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt
    from slack_bolt import Ack, App
    from slack_bolt.adapter.django import SlackRequestHandler
    from slack_bolt.authorization import AuthorizeResult

    def authorize(enterprise_id, team_id, user_id) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)

    app = App(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        authorize=authorize,
        process_before_response=True,
        token_verification_enabled=False,
    )

    @app.command("/deal")
    def deal(ack: Ack) -> None:
        ack(response_type="ephemeral", text=FIXED_TEXT)

    handler = SlackRequestHandler(app)
    patterns = [path("slack/events", csrf_exempt(handler.handle))]
    return {"urlpatterns": patterns, "baseline_application": get_asgi_application()}


_BASELINE: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    if name in ("baseline_application", "urlpatterns"):
        if not _BASELINE:
            _BASELINE.update(_baseline())
        return _BASELINE[name]
    raise AttributeError(name)


# -- the hub's side: database, seed, processes -------------------------------------------------


def env_for(args, port: int, slack_api_url: str) -> dict[str, str]:
    from cryptography.fernet import Fernet  # a dev dependency, needed only to start a run

    broker = urllib.parse.urlsplit(args.redis_url)._replace(path="/13").geturl()
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DRAMATIQ_BROKER_URL": broker,
        "HUB_CHANNEL_PREFIX": f"benchslack{os.getpid()}",
        "SECRET_KEY": "bench-secret-key-bench-secret-key-bench-secret-key-0123456789",
        "EMAIL_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DEBUG": "0",
        "HUB_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "SLACK_HTTP_TIMEOUT_SECONDS": "2",
    }


def prepare_database(env: dict[str, str], deals: int) -> dict[str, Any]:
    """A scratch database, migrated and seeded by ``--seed`` in a process of its own."""
    import psycopg

    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    admin_url = env["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [py, str(Path(__file__).resolve()), "--seed", str(deals)],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(f"seeding failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def seed(deals: int) -> dict[str, Any]:
    """Through the hub's own services: a company, its owner linked in Slack, team, deals."""
    # Imported here: this runs in the seeding subprocess only, with the hub's settings.
    import django

    django.setup()
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from hub.domain.authentication.services import company_create, company_user_add, user_create
    from hub.domain.crm.services import deal_create
    from hub.integrations.slack.services import slack_installation_register, slack_user_link_add

    password = secrets.token_urlsafe(16)  # nobody logs in; the rules want one
    owner = user_create(
        email="olive@bench.test", password=password, first_name="Olive", last_name="Owner"
    )
    company = company_create(company_name="Bench Co", created_by=owner)
    team = [owner]
    for n in range(9):
        member = user_create(
            email=f"seller{n}@bench.test", password=password, first_name=f"Seller{n}", last_name="X"
        )
        company_user_add(company=company, user=member, role="sales_manager")
        team.append(member)
    installation = slack_installation_register(
        team_id=TEAM_ID, company=company, bot_token=BOT_TOKEN, bot_user_id="UBOTBENCH"
    )
    slack_user_link_add(
        installation=installation, slack_user_id=SLACK_USER_ID, user=owner, email=owner.email
    )
    today = timezone.now().date()
    ids = []
    for n in range(deals):
        deal = deal_create(
            company=company,
            created_by=owner,
            title=f"Bench deal {n}",
            value=Decimal(1000 + 37 * n),
            contact_name=f"Contact {n}",
            contact_email=f"contact{n}@client.test",
            company_name=f"Client {n % 40}",
            assigned_to=team[n % len(team)],
            expected_close_date=today + timedelta(days=n % 90) if n % 3 else None,
        )
        ids.append(deal.pk)
    return {"deal_ids": ids, "owner_id": owner.pk, "company_id": company.pk}


# -- the client ---------------------------------------------------------------------------------


def signature(body: str, timestamp: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()


class Commander:
    """Posts signed ``/deal`` commands and times the answers.

    ``command``: ``list`` (``/deal list``: the first page of open deals), ``move`` (``/deal move
    ID STAGE``, deals taken in turn, each pass over them to the other of two stages, so every
    move changes something), ``both`` (the two alternately), or ``help`` (``/deal help``: what
    the hub costs before any member look-up or deal read).
    """

    def __init__(self, session, port: int, label: str, command: str, fake, deal_ids) -> None:
        self.session, self.label, self.command, self.fake = session, label, command, fake
        self.url = f"http://127.0.0.1:{port}/slack/events"
        self.deal_ids = deal_ids
        self.sent = 0
        self.moves = 0
        self.rows: list[tuple[str, int, float, str]] = []  # (kind, status, ms, answer text)

    def text(self) -> tuple[str, str]:
        kind = self.command
        if kind == "both":
            kind = ("list", "move")[self.sent % 2]
        if kind in ("list", "help"):
            return kind, kind
        deal_id = self.deal_ids[self.moves % len(self.deal_ids)]
        stage = STAGES_TYPED[(self.moves // len(self.deal_ids)) % len(STAGES_TYPED)]
        self.moves += 1
        return kind, f"move {deal_id} {stage}"

    def body(self, text: str) -> str:
        self.sent += 1
        return urllib.parse.urlencode(
            {
                "token": "deprecated-verification-token",
                "team_id": TEAM_ID,
                "team_domain": "bench",
                "channel_id": "C0BENCH01",
                "channel_name": "sales",
                "user_id": SLACK_USER_ID,
                "user_name": "olive",
                "command": "/deal",
                "text": text,
                "api_app_id": "A0HUB0001",
                "is_enterprise_install": "false",
                "response_url": self.fake.response_url(f"{self.label}-{self.sent}"),
                "trigger_id": f"{self.sent}.123.bench",
            }
        )

    async def post_one(self) -> None:
        import aiohttp  # the client's own dependency; the baseline's process does not need it

        kind, text = self.text()
        body = self.body(text)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature(body, timestamp),
        }
        started = time.perf_counter()
        answer = ""
        try:
            async with self.session.post(self.url, data=body, headers=headers) as response:
                raw = await response.read()
                status = response.status
        except aiohttp.ClientError:
            status, raw = 0, b""
        elapsed = (time.perf_counter() - started) * 1000
        try:
            answer = str(json.loads(raw).get("text", "")) if raw else ""
        except (ValueError, AttributeError):
            answer = raw.decode(errors="replace")[:200]
        self.rows.append((kind, status, elapsed, answer))

    async def steady(self, rate: float, seconds: float) -> float:
        self.rows = []
        tasks = []
        start_at = time.monotonic()
        for i in range(int(rate * seconds)):
            delay = start_at + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.post_one()))
        await asyncio.gather(*tasks)
        return time.monotonic() - start_at


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def real_answer(kind: str, status: int, text: str, label: str) -> bool:
    """Whether an answer is what the command asks for (the baseline's fixed text for it)."""
    if status != 200 or HUB_ERROR_MARK in text:
        return False
    if label.startswith("baseline"):
        return text == FIXED_TEXT
    if kind == "help":
        return "/deal" in text
    return text.startswith("Moved ") if kind == "move" else "deal" in text.lower()


def figures(commander: Commander, elapsed: float, slack_calls: Counter, cpu: dict) -> dict:
    rows = commander.rows
    ms = [row[2] for row in rows]
    within = sum(1 for _, status, t, _ in rows if status == 200 and t <= SLACK_WAIT_MS)
    samples: dict[str, str] = {}
    for kind, _, _, text in rows:
        samples.setdefault(kind, text[:160])
    return {
        "label": commander.label,
        "command": commander.command,
        "sent": len(rows),
        "answered_per_s": round(sum(1 for r in rows if r[1] == 200) / elapsed, 1),
        "p50_ms": round(pct(ms, 0.50), 1),
        "p99_ms": round(pct(ms, 0.99), 1),
        "max_ms": round(max(ms), 1) if ms else float("nan"),
        "within_3s": f"{100 * within / max(len(rows), 1):.1f} %",
        "real": f"{sum(real_answer(k, s, t, commander.label) for k, s, _, t in rows)}/{len(rows)}",
        "statuses": dict(Counter(str(r[1] or "no answer") for r in rows)),
        "slack_calls": dict(slack_calls),
        "cpu_ms": cpu,
        "samples": samples,
    }


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_groups(port: int, database: str) -> tuple[tuple[str, str], ...]:
    return (
        ("web", f"tcp:port={port}:"),
        ("worker", "rundramatiq"),
        ("worker", "dramatiq "),
        ("postgres", f": postgres {database} "),
        ("redis", "redis-server"),
        ("client", "slack_commands.py"),
    )


async def run_phase(commander: Commander, args, groups) -> dict:
    sys.path.insert(0, str(ROOT / "bench"))
    from twilio_callbacks import cpu_per_callback, cpu_seconds  # the same /proc reading

    await commander.steady(5, 2)  # warm up: connections, Django, Bolt
    seen_before = len(commander.fake.requests)
    load_before = load()
    cpu_before = cpu_seconds(groups)
    elapsed = await commander.steady(args.rate, args.seconds)
    await asyncio.sleep(1)  # let a job a command enqueued reach the fake Slack, if any
    cpu = cpu_per_callback(cpu_before, cpu_seconds(groups), len(commander.rows))
    calls = Counter(seen.method for seen in commander.fake.requests[seen_before:])
    row = figures(commander, elapsed, calls, cpu) | {
        "rate": args.rate,
        "load_before": load_before,
        "load_after": load(),
    }
    print(
        f"  {commander.label} {commander.command} at {args.rate}/s: {json.dumps(row)}", flush=True
    )
    return row


async def main(args) -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import aiohttp
    import redis
    from fanout import free_port, http_ok, start
    from twilio_callbacks import _port_open, daphne, stop

    from tests.slack.fake_slack import FakeSlack

    fake = FakeSlack().start()
    fake.tokens[BOT_TOKEN] = (TEAM_ID, "Bench Slack", "UBOTBENCH")
    port, base_port = free_port(), free_port()
    env = env_for(args, port, fake.api_url)
    print(f"uptime at start: {subprocess.check_output(['uptime'], text=True).strip()}")
    seeded = prepare_database(env, args.deals)
    database = env["DATABASE_URL"].rsplit("/", 1)[1]
    broker = redis.Redis.from_url(env["DRAMATIQ_BROKER_URL"])
    for key in broker.scan_iter("dramatiq:slack*"):  # left by an earlier run
        broker.delete(key)
    commands = ["list", "move"] if args.command == "each" else [args.command]
    rows: list[dict] = []
    moves_done = 0  # every move changes the deal's stage: each run goes on from the last
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        for repeat in range(args.repeat):
            base = start(
                daphne(base_port, "bench.slack_commands:baseline_application"),
                env,
                lambda: _port_open(base_port),
            )
            try:
                for command in commands:
                    label = f"baseline#{repeat + 1}"
                    commander = Commander(session, base_port, label, command, fake, [1])
                    rows.append(await run_phase(commander, args, cpu_groups(base_port, database)))
            finally:
                stop([base])
            procs = []
            if not args.no_worker:
                worker = [sys.executable, "manage.py", "rundramatiq", "--processes", "1"]
                procs.append(start([*worker, "--threads", "8"], env, lambda: True))
            procs.append(start(daphne(port, "config.asgi:application"), env, lambda: http_ok(port)))
            try:
                for command in commands:
                    label = f"hub#{repeat + 1}"
                    commander = Commander(session, port, label, command, fake, seeded["deal_ids"])
                    commander.moves = moves_done
                    rows.append(await run_phase(commander, args, cpu_groups(port, database)))
                    moves_done = commander.moves
            finally:
                stop(procs)
    fake.stop()
    show(rows)
    print(f"uptime at end: {subprocess.check_output(['uptime'], text=True).strip()}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


def show(rows: list[dict]) -> None:
    cols = [
        "label",
        "command",
        "rate",
        "answered_per_s",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "within_3s",
        "real",
        "load_before",
    ]
    print()
    print(" | ".join(cols) + " | p99 ÷ baseline | slack calls | cpu ms per command")
    baselines = {
        (r["label"].split("#")[1], r["command"]): r["p99_ms"]
        for r in rows
        if r["label"].startswith("baseline")
    }
    for row in rows:
        base = baselines.get((row["label"].split("#")[1], row["command"]))
        ratio = f"{row['p99_ms'] / base:.2f}" if base else "-"
        calls = sum(row["slack_calls"].values())
        cpu = row["cpu_ms"]["total"]
        print(" | ".join(str(row[c]) for c in cols) + f" | {ratio} | {calls} | {cpu}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=20.0, help="commands per second (20)")
    parser.add_argument("--seconds", type=float, default=30.0, help="each phase's length (30)")
    parser.add_argument(
        "--command",
        choices=("each", "list", "move", "both", "help"),
        default="each",
        help="each: a list phase then a move phase (default); both: the two alternately; "
        "help: /deal help, the hub's floor (no member look-up, no deal read)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="baseline then hub, N times")
    parser.add_argument("--deals", type=int, default=200, help="deals seeded (200)")
    parser.add_argument(
        "--no-worker", action="store_true", help="do not run rundramatiq beside the web process"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_slack"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)  # the seeding subprocess
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.seed is not None:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(seed(arguments.seed)))
    else:
        asyncio.run(main(arguments))
