from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class MessageTemplate(models.Model):
    class Category(models.TextChoices):
        AUTHENTICATION = "AUTHENTICATION", _("Authentication")
        MARKETING = "MARKETING", _("Marketing")
        UTILITY = "UTILITY", _("Utility")

    class Status(models.TextChoices):
        DRAFT = "DRAFT", _("Draft (not submitted)")
        APPROVED = "APPROVED", _("Approved")
        PENDING = "PENDING", _("Pending review")
        REJECTED = "REJECTED", _("Rejected")
        PAUSED = "PAUSED", _("Paused")
        DISABLED = "DISABLED", _("Disabled")
        IN_APPEAL = "IN_APPEAL", _("In appeal")
        REINSTATED = "REINSTATED", _("Reinstated")
        DELETED = "DELETED", _("Deleted")
        PENDING_DELETION = "PENDING_DELETION", _("Pending deletion")
        FLAGGED = "FLAGGED", _("Flagged")
        LIMIT_EXCEEDED = "LIMIT_EXCEEDED", _("Limit exceeded")
        ARCHIVED = "ARCHIVED", _("Archived")
        LOCKED = "LOCKED", _("Locked")

    class ParameterFormat(models.TextChoices):
        POSITIONAL = "POSITIONAL", _("Positional ({{1}})")
        NAMED = "NAMED", _("Named ({{name}})")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="templates")
    waba_id = models.CharField(max_length=64)
    name = models.CharField(_("name"), max_length=512)
    language = models.CharField(_("language"), max_length=15)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    parameter_format = models.CharField(
        max_length=12, choices=ParameterFormat.choices, default=ParameterFormat.POSITIONAL
    )
    components = models.JSONField(default=list, blank=True)
    meta_id = models.CharField(_("Meta id"), max_length=64, blank=True, db_index=True)
    quality = models.CharField(_("quality"), max_length=20, blank=True)
    rejection_reason = models.TextField(_("rejection reason"), blank=True)
    # Prefill of the send parameters from the contact's (or an event's) fields:
    # {"body.1": "contact.name", "header.1": "contact.attributes.city", "button.0": "event.code"}.
    parameter_mapping = models.JSONField(
        _("parameter prefill"), default=dict, blank=True,
        help_text=_('Slot to source, e.g. {"body.1": "contact.name", "body.order": "contact.attributes.order"}.'),
    )
    # Meta stopped listing it (deleted at Meta); kept so old messages still name it.
    deleted_at = models.DateTimeField(_("deleted at Meta"), null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "waba_id", "name", "language"], name="template_unique_per_waba"
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.language})"


class NotificationRule(models.Model):
    """A business event type mapped to the template sent for it, on which number,
    and where each template parameter comes from."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    event_type = models.SlugField(_("event type"), max_length=80, help_text=_("e.g. order_status_changed"))
    number = models.ForeignKey("whatsapp.WhatsAppNumber", on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("number"))
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="notification_rules",
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
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "idempotency_key"],
                                    name="notification_unique_idempotency_key")
        ]

    def __str__(self):
        return f"{self.event_type} {self.idempotency_key}"
