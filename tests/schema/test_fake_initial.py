"""``migrate --fake-initial`` adopts a database where the CRM already created the shared tables."""

from __future__ import annotations

import pytest

from tests.schema.helpers import SHARED_TABLES, execute, fetch, manage_ok

pytestmark = pytest.mark.postgres

SHARED_APPS = ("authentication", "crm", "customers", "emails", "calls", "notifications", "issues")
# What the CRM's own project builds: Django's contrib tables and the shared tables, no hub_* table.
CRM_MIGRATE = "; ".join(
    ["from django.core.management import call_command"]
    + [
        f"call_command('migrate', {label!r}, verbosity=0)"
        for label in ("contenttypes", "auth", "sessions", "admin", *SHARED_APPS)
        if label not in ("calls", "emails")
    ]
    # The hub's later calls and emails migrations create hub-owned tables (hub_opening_hours,
    # hub_email_*).
    + [
        f"call_command('migrate', {label!r}, '0001_initial', verbosity=0)"
        for label in ("calls", "emails")
    ]
)
# Rows of apps whose migrations the CRM recorded under its own names: the shared apps, and admin,
# whose first migration depends on the user model's app (Django refuses a history where
# admin.0001_initial is applied before authentication.0001_initial).
FOREIGN_HISTORY_APPS = (*SHARED_APPS, "admin")


@pytest.fixture(scope="module", params=["foreign-names", "same-names"])
def crm_database(scratch, request):
    """Return a database shaped like the CRM's: shared tables holding data, the CRM's history.

    ``foreign-names``: the CRM's migrations of the shared apps have names the hub does not know,
    so the hub's initial migrations must be faked. ``same-names``: the CRM's initial migrations
    are called ``0001_initial`` like the hub's, which Django takes as already applied.
    """
    url = scratch.create(f"crm_{request.param.replace('-', '_')}")
    manage_ok(url, "shell", "-c", CRM_MIGRATE)
    execute(
        url,
        """
        INSERT INTO authentication_user (password, username, email, first_name, last_name,
            account_type, is_verified, is_active, is_staff, is_superuser, date_joined, created_at,
            updated_at)
        VALUES ('!', 'ada', 'ada@example.com', 'Ada', 'Lovelace', 'company', true, true, false,
            false, now(), now(), now())
        """,
        """
        INSERT INTO authentication_company (company_name, created_by_id, is_active, created_at,
            updated_at)
        SELECT 'Analytical Engines', id, true, now(), now() FROM authentication_user
        WHERE username = 'ada'
        """,
    )
    if request.param == "foreign-names":
        apps = ", ".join(f"'{label}'" for label in FOREIGN_HISTORY_APPS)
        execute(
            url,
            f"DELETE FROM django_migrations WHERE app IN ({apps})",
            """
            INSERT INTO django_migrations (app, name, applied) VALUES
                ('authentication', '0005_customercompany_phase5', now()),
                ('emails', '0003_email_phase_6_1', now()),
                ('calls', '0001_phase_7_1', now())
            """,
        )
    return request.param, url


def test_crm_database_has_the_shared_tables_and_no_hub_tables(crm_database):
    _, url = crm_database
    tables = {
        name
        for (name,) in fetch(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }

    assert tables >= SHARED_TABLES
    assert not [name for name in tables if name.startswith("hub_")]


def test_fake_initial_adopts_the_tables_and_keeps_the_data(crm_database):
    history, url = crm_database
    output = manage_ok(url, "migrate", "--fake-initial", "--noinput")

    for label in SHARED_APPS:
        faked = f"Applying {label}.0001_initial... FAKED" in output
        assert faked == (history == "foreign-names"), output
        assert f"Applying {label}.0001_initial... OK" not in output
    assert "Applying events.0001_initial... OK" in output
    assert fetch(
        url,
        "SELECT u.email, c.company_name FROM authentication_company c "
        "JOIN authentication_user u ON u.id = c.created_by_id",
    ) == [("ada@example.com", "Analytical Engines")]
    assert "schema matches" in manage_ok(url, "hub_schema_check")
    assert "No migrations to apply" in manage_ok(url, "migrate", "--fake-initial", "--noinput")
