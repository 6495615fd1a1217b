"""WebhookEvent and AccountEvent now belong to the inbound pipeline (apps/inbound,
its migration 0001 takes them over with their tables): Django forgets them here, and
nothing is written to the database."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("whatsapp", "0003_webhook_events_reattribute"),
        ("inbound", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.DeleteModel(name="AccountEvent"),
            migrations.DeleteModel(name="WebhookEvent"),
        ]),
    ]
