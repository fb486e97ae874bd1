"""``migrate`` on an empty PostgreSQL database builds exactly the shared tables of SCHEMA.md."""

from __future__ import annotations

import pytest

from tests.schema.helpers import JOIN_TABLES, SHARED_PREFIXES, SHARED_TABLES, fetch, manage

pytestmark = pytest.mark.postgres


def column_types(url: str, table: str) -> dict[str, tuple[str, bool]]:
    rows = fetch(
        url,
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE c.relname = %s AND c.relnamespace = 'public'::regnamespace
          AND a.attnum > 0 AND NOT a.attisdropped
        """,
        (table,),
    )
    return {name: (db_type, null) for name, db_type, null in rows}


def unique_column_sets(url: str, table: str) -> list[set[str]]:
    """Return the column sets of the table's unique constraints and unique indexes."""
    rows = fetch(
        url,
        """
        SELECT array_agg(a.attname)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
        WHERE c.relname = %s AND c.relnamespace = 'public'::regnamespace
          AND i.indisunique AND NOT i.indisprimary
        GROUP BY i.indexrelid
        """,
        (table,),
    )
    return [set(columns) for (columns,) in rows]


def test_migrate_creates_exactly_the_shared_tables(migrated_database):
    assert len(SHARED_TABLES) == 32
    tables = {
        name
        for (name,) in fetch(
            migrated_database,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        )
    }

    shared = {name for name in tables if name.startswith(SHARED_PREFIXES)}

    assert shared == SHARED_TABLES | JOIN_TABLES
    hub_owned = tables - shared
    assert all(name.startswith(("hub_", "django_", "auth_")) for name in hub_owned), hub_owned


@pytest.mark.parametrize(
    ("table", "column", "db_type", "null"),
    [
        ("calls_call", "price", "numeric(10,4)", True),
        ("calls_call", "notes", "text", False),
        ("calls_call", "twilio_call_sid", "character varying(100)", False),
        ("crm_deal", "value", "numeric(12,2)", False),
        ("crm_deal", "id", "bigint", False),
        ("crm_deal", "company_id", "integer", False),
        ("crm_deal", "stage_id", "bigint", False),
        ("crm_deal", "title", "character varying(255)", False),
        ("crm_lead", "estimated_value", "numeric(12,2)", True),
        ("authentication_user", "id", "integer", False),
        ("authentication_user", "email", "character varying(254)", False),
        ("authentication_user", "last_login", "timestamp with time zone", True),
        ("authentication_company", "employee_count", "integer", True),
        ("customers_customerprofile", "annual_revenue", "numeric(15,2)", True),
        ("customers_customerprofile", "preferences", "jsonb", False),
        ("customers_customerprofile_tags", "customertag_id", "bigint", False),
        ("emails_emailaccount", "password", "character varying(512)", False),
        ("emails_emailaccount", "oauth_token", "text", True),
        ("emails_email", "message_id", "character varying(255)", False),
        ("emails_email", "in_reply_to", "character varying(512)", True),
        ("emails_email", "to_emails", "jsonb", False),
        ("emails_email", "subject", "character varying(500)", False),
        ("emails_email", "uid", "integer", True),
        ("emails_emailtracking", "ip_address", "character varying(45)", True),
        ("notifications_notification", "id", "uuid", False),
        ("notifications_notification", "user_id", "integer", False),
        ("notifications_notification", "related_object_id", "uuid", True),
        ("issues_issue", "id", "uuid", False),
        ("issues_issue", "deal_id", "bigint", True),
        ("issues_issue", "contact_id", "integer", True),
        ("calls_phonenumber", "monthly_cost", "numeric(10,2)", False),
    ],
)
def test_documented_column_types(migrated_database, table, column, db_type, null):
    assert column_types(migrated_database, table)[column] == (db_type, null)


def test_message_id_is_unique_per_email_account_only(migrated_database):
    uniques = unique_column_sets(migrated_database, "emails_email")

    assert {"email_account_id", "message_id"} in uniques
    assert not [columns for columns in uniques if columns == {"message_id"}]


def test_undocumented_auth_tables_are_absent(migrated_database):
    # The hub's User has no groups or permissions: the shared schema documents neither table.
    tables = {name for (name,) in fetch(migrated_database, "SELECT tablename FROM pg_tables")}

    assert not tables & {"authentication_user_groups", "authentication_user_user_permissions"}


def test_makemigrations_reports_no_changes(migrated_database):
    done = manage(migrated_database, "makemigrations", "--check", "--dry-run")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "No changes detected" in done.stdout
