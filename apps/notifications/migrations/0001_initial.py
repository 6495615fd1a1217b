"""NotificationRule and Notification move from apps/message_templates to their own app
(business-event notifications stand above messaging, whose send they call). Their tables
keep their names (Meta.db_table), so only Django's picture of them moves: nothing is
written to the database."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0004_api_tokens_from_clear_tokens"),
        ("message_templates", "0002_templates_prefill_notifications"),
        ("messaging", "0004_reactor_user_id"),
        ("whatsapp", "0004_webhook_events_to_inbound"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.CreateModel(
            name="NotificationRule",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("event_type", models.SlugField(help_text="e.g. order_status_changed", max_length=80, verbose_name="event type")),
                ("parameter_mapping", models.JSONField(blank=True, default=dict, help_text='Slot to source, e.g. {"body.1": "contact.name", "body.2": "event.order_id", "button.0": "event.tracking_code"}. Slots not named here use the template\'s prefill.', verbose_name="parameter mapping")),
                ("active", models.BooleanField(default=True, verbose_name="active")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("number", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="whatsapp.whatsappnumber", verbose_name="number")),
                ("organization", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.organization")),
                ("template", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="notification_rules", to="message_templates.messagetemplate", verbose_name="template")),
            ],
            options={
                "verbose_name": "notification rule",
                "verbose_name_plural": "notification rules",
                "db_table": "message_templates_notificationrule",
                "ordering": ["event_type"],
                "constraints": [models.UniqueConstraint(fields=("organization", "event_type"), name="notification_rule_unique_event")],
            },
        ),
        migrations.CreateModel(
            name="Notification",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("event_type", models.CharField(max_length=80, verbose_name="event type")),
                ("idempotency_key", models.CharField(max_length=128, verbose_name="idempotency key")),
                ("phone", models.CharField(max_length=32, verbose_name="phone")),
                ("payload", models.JSONField(blank=True, default=dict, verbose_name="event fields")),
                ("status", models.CharField(choices=[("accepted", "Accepted"), ("sent", "Sent"), ("refused", "Refused")], default="accepted", max_length=10, verbose_name="status")),
                ("code", models.CharField(blank=True, max_length=40, verbose_name="refusal code")),
                ("reason", models.TextField(blank=True, verbose_name="reason")),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("message", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="messaging.message")),
                ("organization", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.organization")),
                ("rule", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="notifications.notificationrule")),
            ],
            options={
                "verbose_name": "notification",
                "verbose_name_plural": "notifications",
                "db_table": "message_templates_notification",
                "ordering": ["-created_at", "-id"],
                "constraints": [models.UniqueConstraint(fields=("organization", "idempotency_key"), name="notification_unique_idempotency_key")],
            },
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations)]
