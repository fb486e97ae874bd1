"""deal.updated also names a changed title, value or currency; a deleted deal writes
deal.deleted and a deleted notification notification.deleted.

The pipeline board's cards and totals, and every tab's unread badge, follow every change,
wherever it was made.
"""

from django.db import migrations

from hub.domain.events import sql


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.UNINSTALL)
        schema_editor.execute(sql.INSTALL)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0005_email_snippet"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
