"""A trigram index for the inbox search in message text (icontains is UPPER(text) LIKE
UPPER('%q%')): measured by bench/inbox_scale.py, a search over 1,000,000 messages took
2.5 s of SQL without it. PostgreSQL only; SQLite (embedded defaults) scans."""

from django.db import migrations

INDEX = "msg_text_upper_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON messaging_message USING gin (UPPER(text) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("messaging", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
