"""Deliveries stored before the whole-body rule were attributed to the first
organisation an item reached. Deciding once more whose each stored delivery is now
happens in the inbound pipeline's own migration (apps/inbound/migrations/0002), next
to the service it runs; this step is kept so that the chain of migrations stays whole."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("whatsapp", "0002_webhook_signer_and_refused_body_hash"),
        ("accounts", "0004_api_tokens_from_clear_tokens"),
    ]

    operations = []
