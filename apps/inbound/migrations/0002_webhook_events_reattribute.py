"""Deliveries stored before the whole-body rule were attributed to the first
organisation an item reached, so that organisation's admins could read a delivery
that also held another organisation's data. Decide once more, from each stored body,
whose it is (apps.inbound.services.log.webhook_events_reattribute). Deciding is
idempotent: a database that already did it when this step lived in apps/whatsapp
gets the same owners again.

The service reads today's models: should a later change make it unrunnable, this step
can be squashed away, as rows older than WEBHOOK_RETENTION_DAYS are pruned anyway."""

from django.db import migrations


def reattribute(apps, schema_editor):
    from apps.inbound.services.log import webhook_events_reattribute

    webhook_events_reattribute()


class Migration(migrations.Migration):
    dependencies = [
        ("inbound", "0001_initial"),
        ("whatsapp", "0004_webhook_events_to_inbound"),
    ]

    operations = [migrations.RunPython(reattribute, migrations.RunPython.noop)]
