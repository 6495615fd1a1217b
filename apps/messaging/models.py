from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Direction(models.TextChoices):
    INBOUND = "in", _("Inbound")
    OUTBOUND = "out", _("Outbound")


class Author(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent")
    BOT = "bot", _("Bot")
    SYSTEM = "system", _("System")
    INTEGRATION = "integration", _("Business system")
    # The business itself, from the WhatsApp Business app on the same number.
    BUSINESS_APP = "business_app", _("WhatsApp Business app")


class MessageType(models.TextChoices):
    TEXT = "text", _("Text")
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video")
    AUDIO = "audio", _("Audio")
    DOCUMENT = "document", _("Document")
    STICKER = "sticker", _("Sticker")
    LOCATION = "location", _("Location")
    CONTACTS = "contacts", _("Contacts")
    INTERACTIVE = "interactive", _("Interactive")
    BUTTON = "button", _("Button reply")
    TEMPLATE = "template", _("Template")
    REACTION = "reaction", _("Reaction")
    ORDER = "order", _("Order")
    SYSTEM = "system", _("System")
    REQUEST_WELCOME = "request_welcome", _("Welcome request")
    CALL = "call", _("Call")
    UNSUPPORTED = "unsupported", _("Unsupported")


MEDIA_TYPES = {MessageType.IMAGE, MessageType.VIDEO, MessageType.AUDIO, MessageType.DOCUMENT, MessageType.STICKER}


class Status(models.TextChoices):
    """Outbound delivery states. `received` is the state of inbound messages."""

    RECEIVED = "received", _("Received")
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    PLAYED = "played", _("Played")
    FAILED = "failed", _("Failed")
    DELETED = "deleted", _("Deleted")


# The order in which delivery states may follow each other: a status only ever
# moves forward, so a late "delivered" never overwrites "read". failed and deleted
# are final.
STATUS_RANK = {
    Status.PENDING: 0,
    Status.SENT: 1,
    Status.DELIVERED: 2,
    Status.READ: 3,
    Status.PLAYED: 4,
    Status.FAILED: 5,
    Status.DELETED: 6,
}


class Message(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="messages")
    number = models.ForeignKey("whatsapp.WhatsAppNumber", on_delete=models.PROTECT, related_name="+")
    wamid = models.CharField(_("WhatsApp message id"), max_length=255, null=True, blank=True)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    author_type = models.CharField(_("author"), max_length=12, choices=Author.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    type = models.CharField(max_length=20, choices=MessageType.choices)
    # The type's own payload as Meta defines it (inbound) or as we send it (outbound).
    content = models.JSONField(default=dict, blank=True)
    # Searchable and previewable text: body, caption, title, etc.
    text = models.TextField(blank=True)
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    reply_to_wamid = models.CharField(max_length=255, blank=True)
    forwarded = models.BooleanField(default=False)
    frequently_forwarded = models.BooleanField(default=False)
    referral = models.JSONField(null=True, blank=True)
    errors = models.JSONField(null=True, blank=True, help_text=_("Errors Meta attached to an inbound message."))

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Meta's time for inbound messages; creation time for outbound ones. The inbox orders by it.
    timestamp = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    played_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    edit_history = models.JSONField(default=list, blank=True)

    error_code = models.IntegerField(null=True, blank=True)
    error_title = models.CharField(max_length=255, blank=True)
    error_message = models.TextField(blank=True)
    error_details = models.TextField(blank=True)

    # Meta's conversation and pricing information, from status webhooks: the pricing
    # object as sent, and its parts in columns for the reports (per message since
    # July 2025: model PMP, type regular / free_customer_service / free_entry_point).
    pricing = models.JSONField(null=True, blank=True)
    pricing_model = models.CharField(_("pricing model"), max_length=16, blank=True)
    pricing_type = models.CharField(_("pricing type"), max_length=40, blank=True)
    pricing_category = models.CharField(_("pricing category"), max_length=40, blank=True)
    billable = models.BooleanField(_("billable"), null=True, blank=True)
    # A message of a chat the WhatsApp Business app shared on onboarding (Meta's
    # `history`): stored with its own time, it opened nothing and notified no one.
    imported = models.BooleanField(_("imported from the WhatsApp Business app"), default=False)
    meta_conversation = models.JSONField(null=True, blank=True)

    # Sending bookkeeping: an attempt is recorded before the call to Meta, the wamid
    # after; a task run twice sees the attempt and does not send again. The claim
    # (send_started_at) is taken before the slot; call_started_at is written just
    # before the request goes out: a claim without it never reached Meta.
    send_attempts = models.PositiveIntegerField(default=0)
    send_started_at = models.DateTimeField(null=True, blank=True)
    call_started_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=128, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["number", "wamid"], condition=Q(wamid__isnull=False), name="message_unique_wamid_per_number"
            ),
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="message_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "timestamp", "id"], name="msg_conversation_time"),
            models.Index(fields=["wamid"], name="msg_wamid"),
            models.Index(fields=["status", "created_at"], name="msg_status_created"),
            models.Index(fields=["organization", "timestamp"], name="msg_org_time"),
        ]

    def __str__(self):
        return f"{self.get_direction_display()} {self.type} {self.wamid or self.pk}"

    @property
    def is_media(self) -> bool:
        return self.type in MEDIA_TYPES


class Reaction(models.Model):
    """The current reaction of one reactor to one message.

    Keyed by the target's wamid: the reaction may arrive before the message it
    reacts to (or the message may never arrive); `message` is filled when it does.
    """

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    number = models.ForeignKey("whatsapp.WhatsAppNumber", on_delete=models.CASCADE, related_name="+")
    target_wamid = models.CharField(max_length=255)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="reactions")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    reactor = models.CharField(max_length=160, help_text=_("The customer's wa_id (or user id without one), or 'business'."))
    emoji = models.CharField(max_length=32)
    reacted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["number", "target_wamid", "reactor"], name="reaction_one_per_reactor")
        ]


class PendingStatus(models.Model):
    """A status webhook for a message we do not know (yet). Applied when the
    message's wamid is stored; visible to admins while it waits."""

    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    number = models.ForeignKey("whatsapp.WhatsAppNumber", on_delete=models.CASCADE, related_name="+")
    wamid = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("status waiting for its message")
        verbose_name_plural = _("statuses waiting for their message")
        constraints = [
            models.UniqueConstraint(fields=["number", "wamid", "status"], name="pending_status_unique")
        ]
        indexes = [models.Index(fields=["number", "wamid"])]
