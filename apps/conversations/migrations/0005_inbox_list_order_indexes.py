"""Indexes matching the inbox list's ordering exactly (PostgreSQL only).

The inbox lists order by `last_message_at DESC NULLS LAST, id DESC` (selectors.
inbox_queryset, keyset-paginated on that pair). A plain `-last_message_at` index sorts
NULLs first, so PostgreSQL could not use it for that ORDER BY and scanned and sorted
every matching conversation (bench/inbox_scale.py: 100-600 ms of SQL for 30 rows).
With these, a first page is an ordered index scan that stops after 31 rows.

- (organization, status, ...): every view of one status (supervisors; agents' "all"
  and "unassigned" filter the scan by their teams);
- (organization, ...): the status "any" view and search;
- (assignee, status, ...): "mine";
- (number, status, ...): the per-number view.

SQLite (embedded defaults, tests) cannot declare NULLS LAST on an index; it scans.
"""

from django.db import migrations

ORDER = "last_message_at DESC NULLS LAST, id DESC"
INDEXES = [
    ("conv_org_status_recent", f"organization_id, status, {ORDER}"),
    ("conv_org_recent", f"organization_id, {ORDER}"),
    ("conv_assignee_status_recent", f"assignee_id, status, {ORDER}"),
    ("conv_number_status_recent", f"number_id, status, {ORDER}"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON conversations_conversation ({columns})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _columns in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0004_drop_duplicate_message_text_index")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
