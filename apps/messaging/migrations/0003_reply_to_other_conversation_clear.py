"""Drop reply contexts that point into another conversation (audit 16).

Before inbound replies were scoped to their conversation, a customer's context could
link a message to one of another conversation, even of another organisation, and the
thread quoted its text. The link is cleared with one UPDATE (PostgreSQL and SQLite
alike); the quoted wamid stays, so the thread shows a message not in this inbox.
"""

from django.db import migrations
from django.db.models import F


def reply_to_other_conversation_clear(apps, schema_editor):
    Message = apps.get_model("messaging", "Message")
    (Message.objects.filter(reply_to__isnull=False)
     .exclude(reply_to__conversation=F("conversation"))
     .update(reply_to=None))


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0002_message_text_trigram_index"),
    ]

    # Nothing to restore: the links were wrong.
    operations = [
        migrations.RunPython(reply_to_other_conversation_clear, migrations.RunPython.noop),
    ]
