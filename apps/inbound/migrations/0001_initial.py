"""The stored deliveries and account events move from apps/whatsapp to the inbound
pipeline. Their tables keep their names (Meta.db_table), so only Django's picture of
them moves: nothing is written to the database."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0004_api_tokens_from_clear_tokens"),
        ("whatsapp", "0003_webhook_events_reattribute"),
    ]

    state_operations = [
        migrations.CreateModel(
            name="WebhookEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("provider", models.CharField(choices=[("meta", "Meta Cloud API"), ("simulator", "Built-in simulator"), ("twilio", "Twilio"), ("evolution", "Evolution API")], default="meta", max_length=20)),
                ("body", models.BinaryField(verbose_name="raw body")),
                ("headers", models.JSONField(blank=True, default=dict, verbose_name="headers")),
                ("remote_addr", models.GenericIPAddressField(blank=True, null=True)),
                ("signature", models.CharField(choices=[("valid", "Valid"), ("missing", "Missing"), ("invalid", "Invalid"), ("not_required", "Not required")], max_length=20)),
                ("signed_by", models.CharField(blank=True, max_length=64, verbose_name="signed by (secret fingerprint)")),
                ("body_sha256", models.CharField(blank=True, max_length=64, verbose_name="body SHA-256")),
                ("repeats", models.PositiveIntegerField(default=1, verbose_name="times received")),
                ("status", models.CharField(choices=[("received", "Received"), ("processed", "Processed"), ("failed", "Failed (will retry)"), ("dead", "Dead letter"), ("rejected", "Rejected"), ("unrouted", "Unknown number")], db_index=True, default="received", max_length=20)),
                ("reason", models.TextField(blank=True, verbose_name="reason")),
                ("error", models.TextField(blank=True, verbose_name="last error")),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("received_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("processed_at", models.DateTimeField(blank=True, null=True)),
                ("organization", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="accounts.organization")),
                ("number", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="whatsapp.whatsappnumber")),
            ],
            options={
                "verbose_name": "webhook event",
                "verbose_name_plural": "webhook events",
                "db_table": "whatsapp_webhookevent",
                "ordering": ["-received_at", "-id"],
                "indexes": [models.Index(fields=["status", "received_at"], name="whatsapp_we_status_73c285_idx")],
                "constraints": [models.UniqueConstraint(condition=models.Q(("body_sha256", ""), _negated=True), fields=("body_sha256",), name="webhook_event_refused_body_once")],
            },
        ),
        migrations.CreateModel(
            name="AccountEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("waba_id", models.CharField(blank=True, max_length=64)),
                ("field", models.CharField(max_length=64)),
                ("event", models.CharField(blank=True, max_length=64)),
                ("payload", models.JSONField(default=dict)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("organization", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.organization")),
                ("webhook_event", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to="inbound.webhookevent")),
                ("number", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="whatsapp.whatsappnumber")),
            ],
            options={
                "verbose_name": "account event",
                "verbose_name_plural": "account events",
                "db_table": "whatsapp_accountevent",
                "ordering": ["-created_at"],
            },
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations)]
