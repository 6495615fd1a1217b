"""The inbound pipeline's tables: every delivery a provider made to our webhooks, as
received (the durable log and the dead-letter queue), and the account-level notices
those deliveries carried."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.whatsapp.models import Provider, WhatsAppNumber


class WebhookEvent(models.Model):
    """One delivery to a webhook: the durable log and the dead-letter queue.

    Stored in the request before we answer, processed by a task, replayable.
    """

    class Signature(models.TextChoices):
        VALID = "valid", _("Valid")
        MISSING = "missing", _("Missing")
        INVALID = "invalid", _("Invalid")
        NOT_REQUIRED = "not_required", _("Not required")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed (will retry)")
        DEAD = "dead", _("Dead letter")
        REJECTED = "rejected", _("Rejected")
        UNROUTED = "unrouted", _("Unknown number")

    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.META)
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    number = models.ForeignKey(WhatsAppNumber, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    body = models.BinaryField(_("raw body"))
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    signature = models.CharField(max_length=20, choices=Signature.choices)
    # The fingerprint of the secret that signed the delivery (signature.secret_fingerprint,
    # never the secret): processing routes an item only to numbers whose own secret it is.
    signed_by = models.CharField(_("signed by (secret fingerprint)"), max_length=64, blank=True)
    # Set on refused deliveries: the same body refused again adds to `repeats` on this
    # row instead of storing another one (the constraint below).
    body_sha256 = models.CharField(_("body SHA-256"), max_length=64, blank=True)
    repeats = models.PositiveIntegerField(_("times received"), default=1)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    reason = models.TextField(_("reason"), blank=True)
    error = models.TextField(_("last error"), blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at", "-id"]
        # The tables keep the names they had when these models lived in apps/whatsapp.
        db_table = "whatsapp_webhookevent"
        indexes = [models.Index(fields=["status", "received_at"], name="whatsapp_we_status_73c285_idx")]
        constraints = [
            models.UniqueConstraint(fields=["body_sha256"], condition=~models.Q(body_sha256=""),
                                    name="webhook_event_refused_body_once")
        ]

    def __str__(self):
        return f"#{self.pk} {self.get_status_display()}"


class AccountEvent(models.Model):
    """Number quality, account restrictions and other account-level notices from Meta."""

    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    number = models.ForeignKey(WhatsAppNumber, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    waba_id = models.CharField(max_length=64, blank=True)
    field = models.CharField(max_length=64)
    event = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict)
    webhook_event = models.ForeignKey(WebhookEvent, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("account event")
        verbose_name_plural = _("account events")
        db_table = "whatsapp_accountevent"
        ordering = ["-created_at"]
