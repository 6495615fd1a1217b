"""Indexes for the supervisors' reports (apps/reports): conversations opened and
resolved in a date range, and audit entries of one action in a date range.

Plain SQL (the same on SQLite and PostgreSQL) kept out of the models' state: the
indexes serve the reports' queries, not the models' own behaviour."""

from django.db import migrations

INDEXES = [
    ("conv_report_org_created", "conversations_conversation", "organization_id, created_at"),
    ("conv_report_org_resolved", "conversations_conversation", "organization_id, resolved_at"),
    ("audit_report_org_action_time", "conversations_auditlogentry", "organization_id, action, created_at"),
]


class Migration(migrations.Migration):
    dependencies = [("conversations", "0002_search_trigram_indexes")]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})",
            reverse_sql=f"DROP INDEX IF EXISTS {name}",
        )
        for name, table, columns in INDEXES
    ]
