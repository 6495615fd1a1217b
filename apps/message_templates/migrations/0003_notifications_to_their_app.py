"""NotificationRule and Notification now belong to apps/notifications (its migration
0001 takes them over with their tables): Django forgets them here, and nothing is
written to the database."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("message_templates", "0002_templates_prefill_notifications"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.DeleteModel(name="Notification"),
            migrations.DeleteModel(name="NotificationRule"),
        ]),
    ]
