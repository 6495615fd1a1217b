from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.fields import EncryptedTextField


class Provider(models.TextChoices):
    META = "meta", _("Meta Cloud API")
    SIMULATOR = "simulator", _("Built-in simulator")
    TWILIO = "twilio", _("Twilio")
    EVOLUTION = "evolution", _("Evolution API")


class WhatsAppNumber(models.Model):
    """A WhatsApp business number bound to an organisation."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="numbers")
    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices, default=Provider.META)
    name = models.CharField(_("name"), max_length=120, blank=True)
    phone_number_id = models.CharField(_("phone number id"), max_length=64, unique=True)
    waba_id = models.CharField(_("WhatsApp Business Account id"), max_length=64, blank=True)
    display_phone_number = models.CharField(_("display number"), max_length=32, blank=True)
    access_token = EncryptedTextField(_("access token"), blank=True)
    app_secret = EncryptedTextField(_("app secret"), blank=True)
    verify_token = models.CharField(_("verify token"), max_length=128, blank=True)
    rate_limit_per_second = models.PositiveIntegerField(_("messages per second"), default=80)
    is_active = models.BooleanField(_("active"), default=True)
    quality_rating = models.CharField(_("quality rating"), max_length=20, blank=True)
    messaging_limit = models.CharField(_("messaging limit tier"), max_length=40, blank=True)
    # The last phone_number_quality_update event (FLAGGED, UNFLAGGED, DOWNGRADE, UPGRADE...)
    # and when Meta sent it: what happened to the number, not its quality rating.
    quality_event = models.CharField(_("last quality event"), max_length=40, blank=True)
    quality_event_at = models.DateTimeField(_("last quality event at"), null=True, blank=True)
    token_error_at = models.DateTimeField(_("last token error"), null=True, blank=True)
    token_error = models.TextField(_("token error"), blank=True)
    # Sending paused: Meta refused the number or its account as a whole (a permission,
    # a block, the spam rate limit: apps/messaging/sending/pause.py). Its messages wait;
    # one goes out as a check at sending_resume_at; an admin may resume it at once.
    sending_paused_at = models.DateTimeField(_("sending paused at"), null=True, blank=True)
    sending_pause_code = models.IntegerField(_("pause error code"), null=True, blank=True)
    sending_pause_reason = models.TextField(_("why sending is paused"), blank=True)
    sending_resume_at = models.DateTimeField(_("next check at"), null=True, blank=True)
    sending_pause_checks = models.PositiveIntegerField(_("failed checks"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("WhatsApp number")
        verbose_name_plural = _("WhatsApp numbers")
        ordering = ["display_phone_number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate_limit_per_second__gte=1, rate_limit_per_second__lte=1000),
                name="number_rate_limit_1_to_1000",
            )
        ]

    def __str__(self):
        return self.name or self.display_phone_number or self.phone_number_id


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
        indexes = [models.Index(fields=["status", "received_at"])]
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
        ordering = ["-created_at"]
