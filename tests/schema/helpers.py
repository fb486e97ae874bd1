"""Run ``manage.py`` against a scratch database in a subprocess, so each run has its own settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]

# The 32 shared tables of SCHEMA.md and the one M2M join table.
SHARED_TABLES = {
    "authentication_user",
    "authentication_company",
    "authentication_companyuser",
    "authentication_customer",
    "authentication_customercompany",
    "authentication_userinvitation",
    "crm_lead",
    "crm_pipeline",
    "crm_dealstage",
    "crm_deal",
    "crm_activity",
    "customers_customertag",
    "customers_customerprofile",
    "customers_customersegment",
    "customers_order",
    "customers_orderitem",
    "customers_customerinteraction",
    "emails_emailaccount",
    "emails_emailthread",
    "emails_email",
    "emails_emailattachment",
    "emails_emailtemplate",
    "emails_emailrule",
    "emails_emailsynclog",
    "emails_emailtracking",
    "calls_phonenumber",
    "calls_call",
    "calls_callrecording",
    "calls_callnote",
    "calls_voicemailmessage",
    "notifications_notification",
    "issues_issue",
}
JOIN_TABLES = {"customers_customerprofile_tags"}
SHARED_PREFIXES = (
    "authentication_",
    "crm_",
    "customers_",
    "emails_",
    "calls_",
    "notifications_",
    "issues_",
)
SECRET_KEY = "schema-test-secret-key-long-enough-for-the-checks-0123456789abcdef"

# Settings the parent process may carry that must not leak into a subprocess's database choice.
_UNSET = (
    "DATABASE_URL",
    "DATABASE_URL_FILE",
    "REDIS_URL",
    "REDIS_URL_FILE",
    "DRAMATIQ_BROKER_URL",
    "DRAMATIQ_BROKER_URL_FILE",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "DJANGO_SETTINGS_MODULE",
)


def manage(database_url: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run ``manage.py *args`` with ``DATABASE_URL=database_url``; return the finished process."""
    env = {key: value for key, value in os.environ.items() if key not in _UNSET}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        DEBUG="0",
        LOG_LEVEL="WARNING",
        LOG_FORMAT="json",
        HUB_INPROCESS_WORKER="0",
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def manage_ok(database_url: str, *args: str) -> str:
    """Run ``manage.py *args``, fail the test with its output unless it exits 0, return stdout."""
    done = manage(database_url, *args)
    assert done.returncode == 0, (
        f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


def execute(conninfo: str, *statements: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def fetch(conninfo: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(query, params).fetchall()
