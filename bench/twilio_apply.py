"""How much applying stored Twilio callbacks costs: one by one (the baseline) vs in batches.

In-process, on a scratch PostgreSQL database: the same callbacks are stored, then applied with
``callback_process`` one by one (each its own transaction, as a retry or the sweeper does) and
with ``inbox_drain`` at several batch sizes (as the worker does). For each it prints the Python
CPU (``time.process_time``), the PostgreSQL backend's CPU (``/proc``), the statements and the
wall time, per callback. Not a test: it measures.

    .venv/bin/python bench/twilio_apply.py                      # 2000 new calls; 1, 5, 20, 50
    .venv/bin/python bench/twilio_apply.py --mix lifecycle --callbacks 4000 --json var/apply.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fanout import free_port
from twilio_callbacks import ACCOUNT_SID, NUMBER, env_for, prepare_database

LIFECYCLE = ("initiated", "ringing", "in-progress", "completed")


def _params(sid: str, status: str, sequence: int, caller: int) -> dict[str, str]:
    params = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": sid,
        "CallStatus": status,
        "SequenceNumber": str(sequence),
        "Direction": "inbound",
        "From": f"+1415{5550000 + caller % 10000:07d}",
        "To": NUMBER,
        "ApiVersion": "2010-04-01",
        "Timestamp": "Wed, 01 May 2024 12:00:00 +0000",
    }
    if status == "completed":
        params["CallDuration"] = "42"
    return params


def callbacks(mix: str, count: int, run: int) -> list[dict[str, str]]:
    """``new``: each a new call (ringing). ``lifecycle``: four per call, 50 calls interleaved."""
    if mix == "new":
        return [_params(f"CA{run:04x}{i:028x}", "ringing", 0, i) for i in range(count)]
    out: list[dict[str, str]] = []
    calls = count // len(LIFECYCLE)
    for start in range(0, calls, 50):
        group = range(start, min(start + 50, calls))
        for seq, status in enumerate(LIFECYCLE):
            out += [_params(f"CA{run:04x}{i:028x}", status, seq, i) for i in group]
    return out


def backend_cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def measure(label: str, stored: list[int], apply) -> dict:
    from django.db import connection

    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    pg0, cpu0, wall0 = backend_cpu_ms(pid), time.process_time(), time.perf_counter()
    with connection.execute_wrapper(count):
        apply(stored)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    pg = backend_cpu_ms(pid) - pg0
    n = len(stored)
    return {
        "label": label,
        "callbacks": n,
        "python_cpu_ms": round(cpu * 1000 / n, 3),
        "postgres_cpu_ms": round(pg / n, 3),
        "statements": round(statements / n, 2),
        "wall_ms": round(wall * 1000 / n, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--callbacks", type=int, default=2000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 5, 20, 50])
    parser.add_argument("--mix", choices=("new", "lifecycle"), default="new")
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

    env = env_for(SimpleNamespace(**vars(args)), free_port())
    prepare_database(env)
    os.environ.update(env)
    os.chdir(Path(__file__).resolve().parent.parent)
    import django

    django.setup()
    from django.db import connection

    from hub.integrations.twilio import inbox

    def store(run: int) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE hub_twilio_callback")
        ids = []
        for params in callbacks(args.mix, args.callbacks, run):
            row = inbox.callback_store(
                kind="status",
                params=params,
                call_sid=params["CallSid"],
                sequence_number=int(params["SequenceNumber"]),
            )
            assert row is not None
            ids.append(row.pk)
        return ids

    def one_by_one(ids: list[int]) -> None:
        for callback_id in ids:
            inbox.callback_process(callback_id)

    def drain(size: int):
        def apply(ids: list[int]) -> None:
            while inbox.inbox_drain(limit=size).claimed:
                pass

        return apply

    runs = [("one by one (baseline)", one_by_one)] + [
        (f"batches of {size}", drain(size)) for size in args.batch_sizes
    ]
    rows = []
    for run, (label, apply) in enumerate(runs, start=1):
        ids = store(run)
        row = measure(label, ids, apply)
        assert inbox.inbox_drain(limit=1).claimed == 0, "every callback applied"
        rows.append(row)
        print(f"  {row}", flush=True)

    base = rows[0]
    print(f"\n{args.callbacks} callbacks, mix {args.mix}; per callback:")
    print("label | Python CPU ms | PostgreSQL CPU ms | statements | wall ms | CPU vs baseline")
    for row in rows:
        total = row["python_cpu_ms"] + row["postgres_cpu_ms"]
        ratio = total / (base["python_cpu_ms"] + base["postgres_cpu_ms"])
        row["cpu_vs_baseline"] = round(ratio, 2)
        print(
            f"{row['label']} | {row['python_cpu_ms']} | {row['postgres_cpu_ms']} | "
            f"{row['statements']} | {row['wall_ms']} | {ratio:.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"mix": args.mix, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
