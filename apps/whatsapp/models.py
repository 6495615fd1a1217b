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
