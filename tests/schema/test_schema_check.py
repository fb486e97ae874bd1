"""``manage.py hub_schema_check`` finds how a database's shared tables differ from the models."""

from __future__ import annotations

import sqlite3
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from hub.ops.schema_check import normalise_type, schema_differences, shared_models
from tests.schema.helpers import JOIN_TABLES, SHARED_TABLES, execute, fetch, manage

CHECKED = f"schema matches: {len(SHARED_TABLES | JOIN_TABLES)} tables checked"


def listed(output: str) -> dict[str, list[str]]:
    """Return the command's difference lines by table."""
    found: dict[str, list[str]] = {}
    table = ""
    for line in output.splitlines():
        if line.startswith("  "):
            found[table].append(line.strip())
        elif line:
            table = line.strip()
            found[table] = []
    return found


def foreign_key_name(url: str, table: str, column: str) -> str:
    [(name,)] = fetch(
        url,
        """
        SELECT con.conname FROM pg_constraint con
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
        WHERE con.conrelid = %s::regclass AND con.contype = 'f' AND a.attname = %s
        """,
        (table, column),
    )
    return name


@pytest.mark.parametrize(
    ("spelled", "normal"),
    [
        ("character varying(255)", "varchar(255)"),
        ("varchar(255)", "varchar(255)"),
        ("numeric(12, 2)", "numeric(12,2)"),
        ("NUMERIC(12,2)", "numeric(12,2)"),
        ("decimal", "numeric"),
        ("timestamp with time zone", "timestamptz"),
        ("int4", "integer"),
        ("int", "integer"),
        ("serial", "integer"),
        ("int8", "bigint"),
        ("bigint", "bigint"),
        ("bool", "boolean"),
        ("uuid", "uuid"),
        ("jsonb", "jsonb"),
        ("integer unsigned", "integer unsigned"),
    ],
)
def test_normalise_type(spelled, normal):
    assert normalise_type(spelled) == normal


def test_shared_models_cover_the_shared_tables_and_the_join_table():
    assert {model._meta.db_table for model in shared_models()} == SHARED_TABLES | JOIN_TABLES


@pytest.mark.django_db
def test_the_test_database_matches():
    assert schema_differences(connection) == []
    out = StringIO()
    call_command("hub_schema_check", stdout=out)
    assert out.getvalue().strip() == CHECKED


# --- PostgreSQL -----------------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_freshly_migrated_database_matches(migrated_database):
    done = manage(migrated_database, "hub_schema_check")

    assert (done.returncode, done.stdout.strip()) == (0, CHECKED), done.stderr


@pytest.fixture(scope="module")
def altered_database(scratch, migrated_template):
    url = scratch.create("altered", template=migrated_template)
    execute(
        url,
        "ALTER TABLE crm_deal ALTER COLUMN title TYPE varchar(100)",
        "ALTER TABLE calls_call DROP COLUMN notes",
        "ALTER TABLE crm_lead ADD COLUMN extra_col int",
        "ALTER TABLE emails_email ALTER COLUMN subject DROP NOT NULL",
    )
    return url


@pytest.mark.postgres
def test_altered_columns_are_each_named(altered_database):
    done = manage(altered_database, "hub_schema_check")

    assert done.returncode == 1, done.stdout + done.stderr
    assert listed(done.stdout) == {
        "calls_call": ["missing column notes (text NOT NULL)"],
        "crm_deal": ["column title: type varchar(100) in the database, varchar(255) in the model"],
        "crm_lead": ["extra column extra_col (integer NULL), not declared by the model"],
        "emails_email": ["column subject: NULL in the database, NOT NULL in the model"],
    }
    assert "schema differs: 4 difference(s) in 4 table(s) (33 tables checked)" in done.stderr


@pytest.fixture(scope="module")
def drifted_database(scratch, migrated_template):
    """A copy with the kinds of drift an older CRM database may have."""
    url = scratch.create("drifted", template=migrated_template)
    execute(
        url,
        # Phase 6's global unique Message-ID instead of D10's unique per account.
        "ALTER TABLE emails_email DROP CONSTRAINT emails_email_account_message_id_uniq",
        "ALTER TABLE emails_email ADD CONSTRAINT crm_message_id_key UNIQUE (message_id)",
        # A full unique where the model has a partial one (one default pipeline per company).
        "DROP INDEX crm_pipeline_one_default_per_company",
        "CREATE UNIQUE INDEX crm_pipeline_company_key ON crm_pipeline (company_id)",
        # AbstractUser's groups table, which the hub's User does not have.
        "CREATE TABLE authentication_user_groups (id bigserial PRIMARY KEY, "
        "user_id integer NOT NULL REFERENCES authentication_user (id), group_id integer NOT NULL)",
        "DROP TABLE issues_issue",
        "ALTER TABLE calls_call DROP CONSTRAINT calls_call_status_valid",
        "ALTER TABLE crm_deal ADD CONSTRAINT crm_deal_value_positive CHECK (value >= 0)",
        "DROP INDEX crm_lead_company_status_idx",
        "ALTER TABLE customers_customertag ALTER COLUMN id DROP IDENTITY",
        "ALTER TABLE crm_activity ADD COLUMN contact_id integer REFERENCES authentication_customer (id)",
        f"ALTER TABLE emails_emailrule DROP CONSTRAINT {foreign_key_name(url, 'emails_emailrule', 'template_id')}",
        f"ALTER TABLE calls_callnote DROP CONSTRAINT {foreign_key_name(url, 'calls_callnote', 'call_id')}",
        "ALTER TABLE calls_callnote ADD FOREIGN KEY (call_id) REFERENCES calls_phonenumber (id)",
        "ALTER TABLE notifications_notification ALTER COLUMN id TYPE varchar(36)",
    )
    return url


@pytest.mark.postgres
def test_keys_indexes_checks_and_tables_are_compared_by_columns(drifted_database):
    done = manage(drifted_database, "hub_schema_check")

    assert done.returncode == 1, done.stderr
    assert listed(done.stdout) == {
        "authentication_user_groups": ["table not declared by any model"],
        "calls_call": ["missing CHECK on (status)"],
        "calls_callnote": [
            "column call_id: foreign key to calls_phonenumber(id) in the database, "
            "the model references calls_call(id)"
        ],
        "crm_activity": [
            "extra column contact_id (integer NULL), not declared by the model",
            "column contact_id: foreign key to authentication_customer(id) not declared by the model",
        ],
        "crm_deal": ["CHECK on (value) not declared by the model"],
        "crm_lead": ["missing index (company_id, status)"],
        "crm_pipeline": [
            "missing unique (company_id) with a condition",
            "unique (company_id) not declared by the model",
        ],
        "customers_customertag": [
            "column id: not auto-incrementing in the database (no identity or sequence)"
        ],
        "emails_email": [
            "missing unique (email_account_id, message_id)",
            "unique (message_id) not declared by the model",
        ],
        "emails_emailrule": [
            "column template_id: no foreign key in the database, "
            "the model references emails_emailtemplate(id)"
        ],
        "issues_issue": ["missing table"],
        "notifications_notification": [
            "column id: type varchar(36) in the database, uuid in the model"
        ],
    }


# --- SQLite ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_database(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "hub.sqlite3"
    done = manage(f"sqlite:///{path}", "migrate", "--noinput")
    assert done.returncode == 0, done.stdout + done.stderr
    return path


def test_a_migrated_sqlite_database_matches(sqlite_database):
    done = manage(f"sqlite:///{sqlite_database}", "hub_schema_check")

    assert (done.returncode, done.stdout.strip()) == (0, CHECKED), done.stderr


def test_sqlite_differences_are_found(sqlite_database, tmp_path):
    altered = tmp_path / "altered.sqlite3"
    with sqlite3.connect(sqlite_database) as source, sqlite3.connect(altered) as target:
        source.backup(target)
        target.execute("ALTER TABLE crm_lead ADD COLUMN extra_col int")
        target.execute("DROP INDEX crm_lead_company_status_idx")
        target.execute("DROP TABLE issues_issue")

    done = manage(f"sqlite:///{altered}", "hub_schema_check")

    assert done.returncode == 1, done.stderr
    assert listed(done.stdout) == {
        "crm_lead": [
            "extra column extra_col (integer NULL), not declared by the model",
            "missing index (company_id, status)",
        ],
        "issues_issue": ["missing table"],
    }
