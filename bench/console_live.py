"""The console in a real browser: how soon marking a notification read shows, against a call push.

The hub runs as deployed (daphne, ``manage.py hub_relay``, PostgreSQL triggers, channels-redis)
on a scratch database seeded with the demo data (``seed_demo``), and Debian's Chromium signs in
as the demo company login (Nancy) in three tabs:

- **this tab**: the notifications page; the script clicks **Mark read** and times, in the page,
  the click to the nav's unread badge changing (a MutationObserver's timestamp);
- **other tab**: the same page in another tab of the same user; the time from the click to its
  badge changing (the server's ``notification.read`` event, pushed);
- **baseline, a call push**: the call board in a third tab; the time from committing a call's
  status change (a plain ``UPDATE`` from this script, as the CRM or psql would) to the board's
  status cell changing. That is "the usual push time" the other tabs are held to.

Every time is read on one clock (the browser's ``Date.now()`` and this script's ``time.time()``
on the same machine). It prints each figure's p50 / p90 / max over ``--rounds`` rounds and the
ratio of the other tab's p50 to the call push's p50.

    .venv/bin/python bench/console_live.py --rounds 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout import PY, ROOT, free_port, http_ok, pct, start
from twilio_callbacks import daphne, stop

NANCY = ("nancy.davolio@northwind.example.com", "hub-demo-team")
CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium")

# In the page: resolve with Date.now() when the node's text next changes.
WATCH = """
([selector, name]) => {
  const node = document.querySelector(selector);
  window[name] = new Promise(resolve => {
    new MutationObserver((_, observer) => { observer.disconnect(); resolve(Date.now()); })
      .observe(node, {childList: true, characterData: true, subtree: true, attributes: true});
  });
  return null;
}
"""


def env_for(args, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DRAMATIQ_BROKER_URL": urllib.parse.urlsplit(args.redis_url)._replace(path="/12").geturl(),
        "HUB_CHANNEL_PREFIX": f"benchconsole{os.getpid()}",
        "SECRET_KEY": "bench-secret-key-bench-secret-key-bench-secret-key-0123456789",
        "DEBUG": "1",  # static files served by the web process, as under make run
        "HUB_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }


def prepare_database(env: dict[str, str]) -> None:
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    admin_url = env["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    for command in (["migrate", "-v0"], ["seed_demo"]):
        subprocess.run(
            [PY, "manage.py", *command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
        )


def signed_in(browser, base: str, path: str):
    page = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800}).new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", NANCY[0])
    page.fill("#id_password", NANCY[1])
    page.click("input[type=submit]")
    page.goto(path)
    page.wait_for_function("document.getElementById('hub-status').dataset.status === 'live'")
    return page


def figures(name: str, values: list[float]) -> dict:
    return {
        "figure": name,
        "p50_ms": round(statistics.median(values), 1),
        "p90_ms": round(pct(values, 0.9), 1),
        "max_ms": round(max(values), 1),
    }


def run(args) -> list[dict]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = env_for(args, port)
    prepare_database(env)
    procs = []
    db = psycopg.connect(args.database_url, autocommit=True)
    try:
        procs.append(start(daphne(port, "config.asgi:application"), env, lambda: http_ok(port)))
        procs.append(start([PY, "manage.py", "hub_relay"], env, lambda: True))
        nancy = db.execute("SELECT id FROM authentication_user WHERE email = %s", [NANCY[0]])
        user_id = nancy.fetchone()[0]
        call_id = db.execute(
            "SELECT c.id FROM calls_call c JOIN authentication_companyuser m "
            "ON m.company_id = c.company_id AND m.user_id = %s ORDER BY c.id LIMIT 1",
            [user_id],
        ).fetchone()[0]
        base = f"http://127.0.0.1:{port}"
        here_ms, other_ms, call_ms = [], [], []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            this_tab = signed_in(browser, base, "/console/notifications/")
            other_tab = signed_in(browser, base, "/console/notifications/")
            board = signed_in(browser, base, "/console/calls/")
            badge = "[data-unread-badge]"
            for round_ in range(args.rounds):
                # Every notification unread again; wait until both tabs show it.
                db.execute(
                    "UPDATE notifications_notification SET is_read = false WHERE user_id = %s",
                    [user_id],
                )
                unread = db.execute(
                    "SELECT count(*) FROM notifications_notification WHERE user_id = %s",
                    [user_id],
                ).fetchone()[0]
                for tab in (this_tab, other_tab):
                    tab.wait_for_function(
                        f"document.querySelector('{badge}').textContent.trim() === '{unread}'"
                    )
                    tab.wait_for_function(
                        "document.querySelector('#notifications li[data-read=\"false\"] .mark-read')"
                        " !== null"
                    )
                other_tab.evaluate(WATCH, [badge, "changed"])
                clicked = this_tab.evaluate(
                    """([badge]) => {
                      const node = document.querySelector(badge);
                      let changed = null;
                      new MutationObserver((_, o) => { o.disconnect(); changed = performance.now(); })
                        .observe(node, {childList: true, characterData: true, subtree: true});
                      const button = document.querySelector(
                        '#notifications li[data-read="false"] .mark-read');
                      const t0 = performance.now();
                      const at = Date.now();
                      button.click();
                      return new Promise(resolve => setTimeout(
                        () => resolve([at, (changed ?? performance.now()) - t0]), 0));
                    }""",
                    [badge],
                )
                at, here = clicked
                here_ms.append(here)
                other_ms.append(other_tab.evaluate("window.changed") - at)
                # The baseline: a call's status changed by SQL, to the board's cell.
                board.evaluate(
                    WATCH, [f'tr[data-call-id="{call_id}"] [data-field="status"]', "changed"]
                )
                status = ("Ringing", "InProgress")[round_ % 2]
                committed = time.time() * 1000
                db.execute("UPDATE calls_call SET status = %s WHERE id = %s", [status, call_id])
                call_ms.append(board.evaluate("window.changed") - committed)
            browser.close()
    finally:
        db.close()
        stop(procs)
    return [
        figures("mark read → badge, this tab", here_ms),
        figures("mark read → badge, other tab (push)", other_ms),
        figures("baseline: call status (SQL) → board, pushed", call_ms),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_console"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    print("load before:", os.getloadavg(), flush=True)
    rows = run(args)
    print("load after:", os.getloadavg())
    for row in rows:
        print(row)
    other, call = rows[1]["p50_ms"], rows[2]["p50_ms"]
    print(f"other tab p50 ÷ call push p50: {other / call:.2f}× (target: about 1×, the usual push)")
    print(f"this tab p50: {rows[0]['p50_ms']} ms (target: at once, inside the click)")


if __name__ == "__main__":
    main()
