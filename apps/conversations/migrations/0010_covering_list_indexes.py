"""The list's two ordering indexes carry the columns the view counts read, so the
counts can be answered from the index alone. Built concurrently (no lock on writes to
a large table), the new ones before the old ones go, so the list is never without."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("conversations", "0009_contact_blocked"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="conversation",
            index=models.Index(fields=["organization", "status", "-last_message_at"],
                               include=("assignee", "team", "number"), name="conv_org_status_activity_cover"),
        ),
        AddIndexConcurrently(
            model_name="conversation",
            index=models.Index(fields=["assignee", "status", "-last_message_at"], include=("organization",),
                               name="conv_assignee_status_act_cover"),
        ),
        RemoveIndexConcurrently(model_name="conversation", name="conv_org_status_activity"),
        RemoveIndexConcurrently(model_name="conversation", name="conv_assignee_status_activity"),
    ]
