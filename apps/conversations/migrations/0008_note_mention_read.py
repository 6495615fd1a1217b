"""Note.mentions gets a model of its own (NoteMention) on the table the plain
many-to-many created, so that a mention can be read: the rows and their unique
(note, user) pair stay as they are; read_at is added, and mentions stored before are
taken as read (their notes were written before mentions could be unread)."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Q
import django.db.models.deletion
import django.utils.timezone


def existing_mentions_read(apps, schema_editor):
    NoteMention = apps.get_model("conversations", "NoteMention")
    NoteMention.objects.filter(read_at__isnull=True).update(read_at=django.utils.timezone.now())


class Migration(migrations.Migration):

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("conversations", "0007_contact_user_id"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="NoteMention",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("note", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="conversations.note")),
                        ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "conversations_note_mentions",
                        "unique_together": {("note", "user")},
                    },
                ),
                migrations.AlterField(
                    model_name="note",
                    name="mentions",
                    field=models.ManyToManyField(blank=True, related_name="mentioned_in_notes",
                                                 through="conversations.NoteMention", to=settings.AUTH_USER_MODEL),
                ),
            ],
        ),
        migrations.AddField(
            model_name="notemention",
            name="read_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(existing_mentions_read, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="notemention",
            index=models.Index(condition=Q(read_at__isnull=True), fields=["user"], name="note_mention_unread"),
        ),
    ]
