"""email.created carries a snippet of the message's text: the triggers are installed anew."""

from django.db import migrations

from hub.domain.events import sql


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.UNINSTALL)
        schema_editor.execute(sql.INSTALL)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0004_event_outbox"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
