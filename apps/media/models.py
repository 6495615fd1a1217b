from django.db import models
from django.utils.translation import gettext_lazy as _


def media_upload_to(instance, filename):
    return f"media/{instance.organization_id}/{instance.message_id or 'uploads'}/{filename}"


class Media(models.Model):
    """A file of a message: mirrored from Meta (inbound) or uploaded by us (outbound)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be mirrored")
        STORED = "stored", _("Stored")
        UPLOADED = "uploaded", _("Uploaded to Meta")
        FAILED = "failed", _("Could not be had")
        EXPIRED = "expired", _("Expired (retention)")
        DELETED = "deleted", _("Deleted on request")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField(
        "messaging.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="media"
    )
    meta_media_id = models.CharField(max_length=128, blank=True, db_index=True)
    mime_type = models.CharField(max_length=128, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=128, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    file = models.FileField(upload_to=media_upload_to, max_length=500, blank=True)
    thumbnail = models.FileField(upload_to=media_upload_to, max_length=500, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    error = models.TextField(blank=True)
    # What the file is sent or shown as: image, video, audio, document or sticker.
    kind = models.CharField(max_length=10, blank=True)
    animated = models.BooleanField(default=False)
    uploaded_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An uploaded file's id at Meta (meta_media_id) lives 30 days, for the number
    # that uploaded it.
    meta_uploaded_at = models.DateTimeField(null=True, blank=True)
    meta_upload_number = models.ForeignKey(
        "whatsapp.WhatsAppNumber", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    stored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("media file")
        verbose_name_plural = _("media files")
        indexes = [models.Index(fields=["organization", "state", "stored_at"])]
