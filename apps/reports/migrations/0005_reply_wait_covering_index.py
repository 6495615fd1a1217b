"""A covering index (PostgreSQL only: INCLUDE) for the report's largest read of the
roll-ups, the reply waits in a range of reply times: an index-only scan once
autovacuum has marked the pages visible (about a third less time than the index scan
with heap reads, over 212,000 waits). SQLite has no INCLUDE and its test-sized tables
do not need it. (The same for AuthorHour was tried: the planner keeps its parallel
sequential scan, no faster either way.)"""

from django.db import migrations

INDEXES = [
    ("report_wait_org_reply_cov", "reports_replywait",
     "organization_id, reply_at", "started_at, seconds, conversation_id, reply_id"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, columns, include in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns}) INCLUDE ({include})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, *_ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("reports", "0004_reply_wait_seconds")]

    operations = [migrations.RunPython(create, drop)]
