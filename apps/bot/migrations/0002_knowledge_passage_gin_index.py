"""PostgreSQL only: the GIN index behind the knowledge base's full-text search.
SQLite ranks passages in Python (apps/bot/knowledge.py) and needs no index."""

from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS bot_passage_search_gin ON bot_knowledgepassage USING GIN (search_vector)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS bot_passage_search_gin")


class Migration(migrations.Migration):
    dependencies = [("bot", "0001_bot_settings_knowledge_runs_usage")]

    operations = [migrations.RunPython(create_index, drop_index)]
