from django.db import migrations, models


class Migration(migrations.Migration):
    """When a send's request went out (written just before it): a claim without it
    never reached Meta and is given back; only a started call can be interrupted."""

    dependencies = [
        ('messaging', '0004_reactor_user_id'),
    ]

    operations = [
        migrations.AddField(
            model_name='message',
            name='call_started_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
