"""messaging/0002 indexes UPPER(text) of messages with a trigram GIN index; the first
version of 0002 here had created the same index under another name. Keep one."""

from django.db import migrations


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute('DROP INDEX IF EXISTS "conv_search_message_text_trgm"')


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0003_report_indexes"),
        ("messaging", "0002_message_text_trigram_index"),
    ]

    operations = [migrations.RunPython(drop, migrations.RunPython.noop, elidable=True)]
