"""The outbox: triggers write there; the relay moves committed events into hub_event in commit order."""

from django.db import migrations, models

from hub.domain.events import sql


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.UNINSTALL)
        schema_editor.execute(sql.INSTALL)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0003_triggers"),
    ]

    operations = [
        migrations.CreateModel(
            name="EventOutbox",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("company_id", models.IntegerField(blank=True, null=True)),
                (
                    "audience",
                    models.CharField(
                        choices=[
                            ("user", "One user"),
                            ("company", "Company members"),
                            ("deal_managers", "Deal managers and assignee"),
                        ],
                        max_length=16,
                    ),
                ),
                ("user_id", models.IntegerField(blank=True, null=True)),
                ("topic", models.CharField(max_length=32)),
                ("type", models.CharField(max_length=64)),
                ("payload", models.JSONField(default=dict)),
                ("created_at", models.DateTimeField()),
            ],
            options={
                "db_table": "hub_event_outbox",
            },
        ),
        # The triggers and functions as sql.INSTALL now writes them (into the outbox). Going
        # back re-installs whatever sql.INSTALL says at that time: step back in code too.
        migrations.RunPython(install, migrations.RunPython.noop),
    ]
