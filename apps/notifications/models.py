"""Business-event notifications: a business system posts an event (an order shipped),
a rule maps its type to the template sent for it and where each parameter comes from,
and each event is recorded once per idempotency key with its outcome."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# The tables keep the names they had when these models lived in apps/message_templates.


class NotificationRule(models.Model):
    """A business event type mapped to the template sent for it, on which number,
    and where each template parameter comes from."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    event_type = models.SlugField(_("event type"), max_length=80, help_text=_("e.g. order_status_changed"))
    number = models.ForeignKey("whatsapp.WhatsAppNumber", on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("number"))
    template = models.ForeignKey("message_templates.MessageTemplate", on_delete=models.PROTECT, related_name="notification_rules",
                                 verbose_name=_("template"))
    parameter_mapping = models.JSONField(
        _("parameter mapping"), default=dict, blank=True,
        help_text=_('Slot to source, e.g. {"body.1": "contact.name", "body.2": "event.order_id", '
                    '"button.0": "event.tracking_code"}. Slots not named here use the template\'s prefill.'),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("notification rule")
        verbose_name_plural = _("notification rules")
        db_table = "message_templates_notificationrule"
        ordering = ["event_type"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "event_type"], name="notification_rule_unique_event")
        ]

    def __str__(self):
        return f"{self.event_type} \u2192 {self.template}"


class Notification(models.Model):
    """One business event received, at most once per idempotency key, and its outcome."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        SENT = "sent", _("Sent")
        REFUSED = "refused", _("Refused")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(NotificationRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event_type = models.CharField(_("event type"), max_length=80)
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    phone = models.CharField(_("phone"), max_length=32)
    payload = models.JSONField(_("event fields"), default=dict, blank=True)
    message = models.ForeignKey("messaging.Message", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACCEPTED)
    code = models.CharField(_("refusal code"), max_length=40, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        db_table = "message_templates_notification"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "idempotency_key"],
                                    name="notification_unique_idempotency_key")
        ]

    def __str__(self):
        return f"{self.event_type} {self.idempotency_key}"
