"""Deliveries stored before the whole-body rule were attributed to the first
organisation an item reached, so that organisation's admins could read a delivery
that also held another organisation's data. Decide once more, from each stored body,
whose it is (apps.whatsapp.services.log.webhook_events_reattribute).

The service reads today's models: this migration is meant to run right after 0002.
Should a later change make it unrunnable, it can be squashed away: rows older than
WEBHOOK_RETENTION_DAYS are pruned anyway."""

from django.db import migrations


def reattribute(apps, schema_editor):
    from apps.whatsapp.services.log import webhook_events_reattribute

    webhook_events_reattribute()


class Migration(migrations.Migration):
    dependencies = [
        ("whatsapp", "0002_webhook_signer_and_refused_body_hash"),
        ("accounts", "0004_api_tokens_from_clear_tokens"),
    ]

    operations = [migrations.RunPython(reattribute, migrations.RunPython.noop)]
