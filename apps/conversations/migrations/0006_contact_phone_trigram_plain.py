"""Trigram indexes on the plain phone and WhatsApp id (PostgreSQL only).

A search term without letters matches the phone and the WhatsApp id with a plain
LIKE (selectors.contact_ids_matching: case cannot matter, so UPPER() is skipped);
these indexes serve it. Measured on 100,000 contacts (bench/inbox_scale.py): the
UPPER() scan of a column cost 57 ms per search, the plain one 25 ms, and a term
common to many numbers made the planner scan both columns.
"""

from django.db import migrations

INDEXES = [
    ("conv_search_contact_phone_trgm_plain", "conversations_contact", "phone"),
    ("conv_search_contact_waid_trgm_plain", "conversations_contact", "wa_id"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin ("{column}" gin_trgm_ops)')


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("conversations", "0005_inbox_list_order_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
