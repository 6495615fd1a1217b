"""The bot's settings, knowledge base, runs and usage.

Settings: one row per organisation (number empty) and, optionally, one per number
that replaces the organisation's row for that number entirely. The knowledge base
is the organisation's: documents (text, Markdown, PDF) and FAQ pairs, cut into
passages that retrieval ranks (apps/bot/knowledge.py).
"""

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.fields import EncryptedTextField

DEFAULT_HANDOFF_KEYWORDS = ["atendente", "humano", "agent", "human", "talk to a human", "falar com atendente"]
INTENTS = ("create_quote", "order_status", "talk_to_human")


def default_handoff_keywords():
    return list(DEFAULT_HANDOFF_KEYWORDS)


def default_sensitive_topics():
    return []


class BotSettings(models.Model):
    class HoursMode(models.TextChoices):
        ALWAYS = "always", _("Answer at any time")
        OUTSIDE = "outside", _("Answer only outside business hours")
        INSIDE = "inside", _("Answer only inside business hours")

    class SearchLanguage(models.TextChoices):
        ENGLISH = "english", _("English")
        PORTUGUESE = "portuguese", _("Portuguese")
        SIMPLE = "simple", _("Any (no stemming)")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="bot_settings")
    number = models.ForeignKey(
        "whatsapp.WhatsAppNumber", null=True, blank=True, on_delete=models.CASCADE, related_name="bot_settings",
        help_text=_("Empty: the organisation's settings. A number's settings replace them for that number."),
    )
    enabled = models.BooleanField(_("bot on"), default=False)
    model = models.CharField(_("model"), max_length=100, blank=True, help_text=_("Empty: OPENAI_MODEL."))
    api_key = EncryptedTextField(
        _("API key"), blank=True, help_text=_("Optional: this organisation's own key (stored encrypted). Empty: OPENAI_API_KEY.")
    )
    system_prompt = models.TextField(
        _("system prompt"), blank=True,
        default="You are the friendly assistant of this business on WhatsApp. Answer briefly, in the customer's "
                "language, using only the business information given. When you do not know, say so and offer a person.",
    )
    temperature = models.FloatField(_("temperature"), default=0.3)
    max_reply_tokens = models.PositiveIntegerField(_("maximum reply length (tokens)"), default=600)
    context_messages = models.PositiveSmallIntegerField(_("messages of context"), default=20)
    business_hours = models.TextField(
        _("business hours"), blank=True,
        help_text=_("Weekday ranges in the organisation's time zone, e.g. \"mon-fri 09:00-18:00; sat 09:00-13:00\"."),
    )
    hours_mode = models.CharField(_("when to answer"), max_length=10, choices=HoursMode.choices, default=HoursMode.ALWAYS)
    welcome_message = models.TextField(_("welcome message"), blank=True)
    handoff_message = models.TextField(
        _("hand-off message"), default="Thank you! A person from our team will continue this conversation shortly."
    )
    fallback_message = models.TextField(
        _("message when the AI fails"),
        default="Sorry, I cannot answer right now. A person from our team will continue this conversation shortly.",
    )
    handoff_keywords = models.JSONField(
        _("hand-off keywords"), default=default_handoff_keywords, blank=True,
        help_text=_("Accents and case are ignored."),
    )
    sensitive_topics = models.JSONField(
        _("sensitive topics"), default=default_sensitive_topics, blank=True,
        help_text=_("Words or phrases that go straight to a person (accents and case ignored)."),
    )
    max_turns_without_progress = models.PositiveSmallIntegerField(
        _("maximum turns without progress"), default=3,
        help_text=_("Bot replies in a row where the customer repeated themselves or no knowledge matched."),
    )
    create_quote_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("team for quotes (create_quote)"),
    )
    order_status_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("team for order status (order_status)"),
    )
    talk_to_human_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("team for other hand-offs (talk_to_human)"),
    )
    search_language = models.CharField(
        _("knowledge base language"), max_length=12, choices=SearchLanguage.choices, default=SearchLanguage.ENGLISH
    )
    passages_per_answer = models.PositiveSmallIntegerField(_("passages given to the model"), default=4)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("bot settings")
        verbose_name_plural = _("bot settings")
        constraints = [
            models.UniqueConstraint(
                fields=["organization"], condition=Q(number__isnull=True), name="bot_settings_one_per_org"
            ),
            models.UniqueConstraint(
                fields=["organization", "number"], condition=Q(number__isnull=False), name="bot_settings_one_per_number"
            ),
        ]

    def __str__(self):
        return str(self.number) if self.number_id else str(_("Organisation default"))

    def team_for_intent(self, intent: str):
        return getattr(self, f"{intent}_team", None) if intent in INTENTS else None


class KnowledgeDocument(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        MARKDOWN = "markdown", _("Markdown")
        PDF = "pdf", _("PDF")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, blank=True)
    file = models.FileField(_("file"), upload_to="bot/knowledge/%Y/%m/", blank=True)
    text = models.TextField(_("text"), blank=True, help_text=_("Typed here, or extracted from the uploaded file."))
    error = models.CharField(_("problem"), max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("knowledge document")
        verbose_name_plural = _("knowledge documents")
        ordering = ["title"]

    def __str__(self):
        return self.title


class KnowledgeFAQ(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    question = models.CharField(_("question"), max_length=500)
    answer = models.TextField(_("answer"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("FAQ")
        verbose_name_plural = _("FAQs")
        ordering = ["question"]

    def __str__(self):
        return self.question


class KnowledgePassage(models.Model):
    """A piece of a document or an FAQ pair, the unit retrieval ranks."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(KnowledgeDocument, null=True, blank=True, on_delete=models.CASCADE, related_name="passages")
    faq = models.ForeignKey(KnowledgeFAQ, null=True, blank=True, on_delete=models.CASCADE, related_name="passages")
    position = models.PositiveIntegerField(default=0)
    text = models.TextField()
    # PostgreSQL only: to_tsvector(language, text), GIN-indexed (migration 0002).
    search_vector = SearchVectorField(null=True, blank=True)
    language = models.CharField(max_length=12, default="english")
    embedding = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["document_id", "faq_id", "position"]
        indexes = [models.Index(fields=["organization"], name="bot_passage_org")]

    @property
    def source(self) -> str:
        if self.faq_id:
            return f"FAQ: {self.faq.question}"
        return self.document.title if self.document_id else ""


class BotRun(models.Model):
    """The bot's handling of one customer message: at most one per message, so the
    bot never answers a message twice (the message is unique per wamid)."""

    class Status(models.TextChoices):
        STARTED = "started", _("Started")
        REPLIED = "replied", _("Replied")
        HANDED_OFF = "handed_off", _("Handed off")
        SKIPPED = "skipped", _("Skipped")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="bot_runs")
    message = models.OneToOneField("messaging.Message", on_delete=models.CASCADE, related_name="bot_run")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.STARTED)
    reason = models.CharField(max_length=60, blank=True)
    intent = models.CharField(max_length=40, blank=True)
    progress = models.BooleanField(default=True)
    reply_ids = models.JSONField(default=list, blank=True)
    passage_ids = models.JSONField(default=list, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("bot run")
        verbose_name_plural = _("bot runs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="bot_run_conversation")]


class BotUsage(models.Model):
    """Requests to the model per organisation and day (UTC)."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    requests = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("AI usage")
        verbose_name_plural = _("AI usage")
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["organization", "day"], name="bot_usage_one_per_org_day")]
