"""Trigram indexes for the inbox search (PostgreSQL only).

The search is one query path on every backend: Django's icontains, which PostgreSQL
runs as UPPER(col::text) LIKE UPPER('%q%'). GIN trigram indexes on exactly those
expressions serve it; SQLite (embedded defaults, tests) has no such index and scans.
The index on message text is messaging's own (messaging/0002_message_text_trigram_index);
0004 drops the copy this migration created at first.
"""

from django.db import migrations

INDEXES = [
    ("conv_search_contact_name_trgm", "conversations_contact", "name"),
    ("conv_search_contact_profile_trgm", "conversations_contact", "profile_name"),
    ("conv_search_contact_phone_trgm", "conversations_contact", "phone"),
    ("conv_search_contact_waid_trgm", "conversations_contact", "wa_id"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0001_initial"),
        ("messaging", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
