"""Every clear-text DRF token becomes a hashed ApiToken with the same key (its clients
keep working), and the clear-text rows are deleted."""

import hashlib

from django.db import migrations

PREFIX_LENGTH = 8


def hash_clear_tokens(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    ApiToken = apps.get_model("accounts", "ApiToken")
    for token in Token.objects.all().iterator():
        row = ApiToken.objects.create(
            user_id=token.user_id, name="API token (migrated)", prefix=token.key[:PREFIX_LENGTH],
            key_hash=hashlib.sha256(token.key.encode()).hexdigest(),
        )
        ApiToken.objects.filter(pk=row.pk).update(created_at=token.created)
    Token.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_api_token"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    # The clear keys cannot be brought back.
    operations = [migrations.RunPython(hash_clear_tokens, migrations.RunPython.noop)]
