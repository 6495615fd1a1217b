"""The unassigned conversations have an index of their own (the Unassigned view, and an
agent's count of the unassigned conversations of their teams), built concurrently."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("conversations", "0010_covering_list_indexes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="conversation",
            index=models.Index(condition=models.Q(("assignee__isnull", True)),
                               fields=["organization", "status", "-last_message_at"],
                               include=("team", "number"), name="conv_unassigned_cover"),
        ),
    ]
