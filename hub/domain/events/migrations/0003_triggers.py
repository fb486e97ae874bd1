"""Install the event triggers on PostgreSQL (other databases get events from the services)."""

from django.db import migrations

from hub.domain.events import sql


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.UNINSTALL)
        schema_editor.execute(sql.INSTALL)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.UNINSTALL)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0002_relay_cursor"),
        ("notifications", "0001_initial"),
        ("emails", "0001_initial"),
        ("calls", "0001_initial"),
        ("crm", "0001_initial"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
