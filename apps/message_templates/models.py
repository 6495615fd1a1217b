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
