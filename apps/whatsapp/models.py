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
    # What the pause covers: "" everything the number sends, "marketing" its marketing
    # templates only (Meta refuses that kind alone: errors.SCOPED_CODES).
    sending_pause_scope = models.CharField(_("paused messages"), max_length=20, blank=True,
                                           choices=[("", _("all messages")), ("marketing", _("marketing templates"))])
    # Meta's restrictions of the account that stop some sends (account_update
    # ACCOUNT_RESTRICTION): [{"type", "expires_at" (ISO), "covers"}], covers being
    # "business_initiated" or "customer_initiated" (apps/messaging/account_health.py).
    restrictions = models.JSONField(_("restrictions"), default=list, blank=True)
    # The number's status as Meta last gave it (GET /{phone-number-id}, read periodically).
    verified_name = models.CharField(_("verified name"), max_length=200, blank=True)
    name_status = models.CharField(_("display name status"), max_length=40, blank=True)
    code_verification_status = models.CharField(_("code verification status"), max_length=40, blank=True)
    platform_type = models.CharField(_("platform"), max_length=40, blank=True)
    throughput_level = models.CharField(_("throughput level"), max_length=40, blank=True)
    status_checked_at = models.DateTimeField(_("status read at"), null=True, blank=True)
    status_error = models.TextField(_("status read error"), blank=True)
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    pin_set_at = models.DateTimeField(_("two-step PIN set at"), null=True, blank=True)
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


class AccountAlert(models.Model):
    """An account-level notice from Meta that the organisation's admins must see: a
    restriction, a ban, a violation, an alert, a review decision, a display name
    decision, a security or quality event. Shown in the inbox to admins until one of
    them dismisses it (apps/messaging/account_health.py writes them)."""

    class Severity(models.TextChoices):
        CRITICAL = "critical", _("Critical")
        WARNING = "warning", _("Warning")
        INFO = "info", _("Information")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    number = models.ForeignKey(WhatsAppNumber, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    waba_id = models.CharField(_("WhatsApp Business Account id"), max_length=64, blank=True)
    field = models.CharField(_("webhook field"), max_length=64)
    event = models.CharField(_("event"), max_length=64, blank=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.INFO)
    summary = models.CharField(_("summary"), max_length=500)
    details = models.JSONField(_("details"), default=dict, blank=True)
    key = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)
    dismissed_at = models.DateTimeField(_("dismissed at"), null=True, blank=True)
    dismissed_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    class Meta:
        verbose_name = _("account alert")
        verbose_name_plural = _("account alerts")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="account_alert_unique_key")]
        indexes = [models.Index(fields=["organization", "dismissed_at", "created_at"], name="account_alert_open")]

    def __str__(self):
        return f"{self.get_severity_display()}: {self.summary}"
