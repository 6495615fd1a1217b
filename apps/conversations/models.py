from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.providers.meta.capabilities import CAPABILITIES


class Contact(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="contacts")
    # Who the customer is at the provider: the phone-based WhatsApp id, and Meta's
    # business-scoped user id (BSUID). A customer who uses a WhatsApp username may come
    # with the user id alone; at least one of the two is set, each unique in the
    # organisation.
    wa_id = models.CharField(_("WhatsApp id"), max_length=32, blank=True)
    user_id = models.CharField(_("WhatsApp user id"), max_length=160, blank=True)
    parent_user_id = models.CharField(_("WhatsApp parent user id"), max_length=160, blank=True)
    username = models.CharField(_("WhatsApp username"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    profile_name = models.CharField(_("WhatsApp profile name"), max_length=200, blank=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    # Opt-out of everything the business sends (keywords such as STOP): only what
    # the law and Meta allow still goes out.
    opted_out = models.BooleanField(_("opted out"), default=False)
    opted_out_at = models.DateTimeField(_("opted out at"), null=True, blank=True)
    opt_out_reason = models.CharField(_("opt-out reason"), max_length=200, blank=True)
    # Marketing consent, from Meta's user_preferences webhook (set in WhatsApp itself).
    marketing_opted_out = models.BooleanField(_("stopped marketing messages"), default=False)
    marketing_opted_out_at = models.DateTimeField(null=True, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(fields=["organization", "wa_id"], name="contact_unique_wa_id_per_org",
                                    condition=~models.Q(wa_id="")),
            models.UniqueConstraint(fields=["organization", "user_id"], name="contact_unique_user_id_per_org",
                                    condition=~models.Q(user_id="")),
            models.CheckConstraint(condition=~models.Q(wa_id="", user_id=""), name="contact_has_an_identity"),
        ]
        # Look-ups by wa_id or user id use these (a partial unique index serves a query
        # only when PostgreSQL can prove its condition, not for long IN lists).
        indexes = [models.Index(fields=["organization", "phone"]),
                   models.Index(fields=["organization", "wa_id"], name="contact_org_wa_id"),
                   models.Index(fields=["organization", "user_id"], name="contact_org_user_id")]

    def __str__(self):
        return self.display_name

    @property
    def key(self) -> str:
        """The customer's key for limits and look-ups: the wa_id, or the user id without one."""
        return self.wa_id or self.user_id

    @property
    def display_name(self) -> str:
        if self.name or self.profile_name:
            return self.name or self.profile_name
        if self.username:
            return self.username
        return f"+{self.wa_id}" if self.wa_id else self.user_id


class ContactBlock(models.Model):
    """A customer blocked on one of the organisation's numbers (Meta blocks per number):
    they cannot write to it and the business cannot write to them. Their messages that
    still arrive are kept and shown flagged."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="blocks")
    number = models.ForeignKey("whatsapp.WhatsAppNumber", on_delete=models.CASCADE, related_name="+")
    blocked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("blocked at"), default=timezone.now)

    class Meta:
        verbose_name = _("blocked customer")
        verbose_name_plural = _("blocked customers")
        constraints = [models.UniqueConstraint(fields=["contact", "number"], name="contact_block_unique")]
        indexes = [models.Index(fields=["number", "created_at"], name="contact_block_number")]

    def __str__(self):
        return f"{self.contact} @ {self.number}"


class Label(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(_("name"), max_length=60)
    color = models.CharField(_("colour"), max_length=7, default="#6b7280")

    class Meta:
        verbose_name = _("label")
        verbose_name_plural = _("labels")
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="label_unique_name_per_org")]
        ordering = ["name"]

    def __str__(self):
        return self.name


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending")
        SNOOZED = "snoozed", _("Snoozed")
        RESOLVED = "resolved", _("Resolved")

    class Priority(models.IntegerChoices):
        NONE = 0, _("None")
        LOW = 1, _("Low")
        MEDIUM = 2, _("Medium")
        HIGH = 3, _("High")
        URGENT = 4, _("Urgent")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    number = models.ForeignKey("whatsapp.WhatsAppNumber", on_delete=models.PROTECT, related_name="conversations")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_conversations"
    )
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations")
    labels = models.ManyToManyField(Label, blank=True, related_name="conversations")
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices, default=Priority.NONE)
    unread_count = models.PositiveIntegerField(_("unread messages"), default=0)
    last_message_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    last_message_preview = models.CharField(_("last message"), max_length=200, blank=True)
    last_customer_message_at = models.DateTimeField(_("customer's last message"), null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    bot_active = models.BooleanField(_("bot active"), default=False)
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        constraints = [
            # One conversation that is not resolved per contact and number: two
            # concurrent first messages cannot open two.
            models.UniqueConstraint(
                fields=["contact", "number"], condition=~Q(status="resolved"), name="conversation_one_active_per_contact"
            )
        ]
        indexes = [
            # The list's orders, and (with the columns they carry) the counts of its
            # views, answered from the index alone where the pages are all-visible.
            models.Index(fields=["organization", "status", "-last_message_at"], name="conv_org_status_activity_cover",
                         include=["assignee", "team", "number"]),
            models.Index(fields=["assignee", "status", "-last_message_at"], name="conv_assignee_status_act_cover",
                         include=["organization"]),
            # The unassigned ones alone: the Unassigned view, and an agent's count of them.
            models.Index(fields=["organization", "status", "-last_message_at"], name="conv_unassigned_cover",
                         include=["team", "number"], condition=Q(assignee__isnull=True)),
            models.Index(fields=["organization", "-last_message_at"], name="conv_org_activity"),
        ]

    def __str__(self):
        return f"{self.contact} ({self.get_status_display()})"

    @property
    def window_expires_at(self):
        if self.last_customer_message_at is None:
            return None
        return self.last_customer_message_at + CAPABILITIES.customer_service_window

    def window_open(self, now=None) -> bool:
        expires = self.window_expires_at
        return expires is not None and (now or timezone.now()) < expires


class Note(models.Model):
    """A private note on a conversation, seen only by the team."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    body = models.TextField(_("note"))
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in_notes", through="NoteMention"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("private note")
        verbose_name_plural = _("private notes")
        ordering = ["created_at"]
        indexes = [models.Index(fields=["conversation", "created_at"])]


class NoteMention(models.Model):
    """A colleague named as @username in a note: unread until they open the
    conversation. The table is the one the plain many-to-many had."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "conversations_note_mentions"
        unique_together = [("note", "user")]
        indexes = [
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="note_mention_unread"),
        ]


class CannedResponse(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="canned_responses")
    shortcut = models.SlugField(_("shortcut"), max_length=40)
    body = models.TextField(_("text"))

    class Meta:
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")
        constraints = [
            models.UniqueConstraint(fields=["organization", "shortcut"], name="canned_unique_shortcut_per_org")
        ]
        ordering = ["shortcut"]

    def __str__(self):
        return f"/{self.shortcut}"


class AuditLogEntry(models.Model):
    """Who did what to which conversation, and when."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_log"
    )
    action = models.CharField(max_length=60)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "created_at"])]
