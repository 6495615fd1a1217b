"""Roll-ups the reports read instead of scanning every message of the range.

Kept by `services.rollup_refresh` (periodic task `reports.refresh_rollups`), for
closed UTC hours up to `RollupState.until`; the report reads them for the hours
before that watermark and runs its live SQL for the rest. See docs/reports.md."""

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class RollupState(models.Model):
    """How far an organisation's roll-ups go: every message with a `timestamp`
    before `until` (a UTC hour boundary) is counted in MessageHour and ReplyWait."""

    organization = models.OneToOneField("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    until = models.DateTimeField(_("rolled up until"))
    # When the last refresh started: messages stored since then are looked at again
    # (late arrivals with an older timestamp).
    checked_at = models.DateTimeField()

    class Meta:
        verbose_name = _("report roll-up state")
        verbose_name_plural = _("report roll-up states")


class MessageHour(models.Model):
    """Messages per UTC hour (of `timestamp`), direction, type, author type, template
    (name and language of template messages) and error code (of failed outbound
    messages), with the delivery stages of those messages."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    direction = models.CharField(max_length=3)
    type = models.CharField(max_length=20)
    author_type = models.CharField(max_length=12)
    template_name = models.TextField(null=True)
    template_language = models.TextField(null=True)
    error_code = models.IntegerField(null=True)
    error_title = models.CharField(max_length=255, null=True)  # the greatest, of the failed ones
    messages = models.PositiveIntegerField()
    sent = models.PositiveIntegerField()
    delivered = models.PositiveIntegerField()
    read = models.PositiveIntegerField()
    failed = models.PositiveIntegerField()
    pending = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("messages per hour")
        verbose_name_plural = _("messages per hour")
        indexes = [models.Index(fields=["organization", "hour"], name="report_msghour_org_hour")]


class ReplyWait(models.Model):
    """Each reply of ours (an agent's or the bot's message) that ends a customer's
    turn: the reply's time and the turn's first customer message's time."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="+")
    reply_id = models.BigIntegerField()
    reply_at = models.DateTimeField()
    started_at = models.DateTimeField()
    # reply_at - started_at in seconds (sql.elapsed_seconds); empty in rows written
    # before the column existed (the report then computes it).
    seconds = models.FloatField(null=True)

    class Meta:
        verbose_name = _("reply wait")
        verbose_name_plural = _("reply waits")
        indexes = [
            models.Index(fields=["organization", "reply_at"], name="report_wait_org_reply"),
            models.Index(fields=["conversation", "reply_at"], name="report_wait_conv_reply"),
        ]


class AuthorHour(models.Model):
    """Our agents' and the bot's messages per UTC hour, author and conversation: who
    handled which conversations, and in which conversations the bot or an agent wrote."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    author_type = models.CharField(max_length=12)
    author_id = models.BigIntegerField(null=True)
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="+")
    messages = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("messages per hour and author")
        verbose_name_plural = _("messages per hour and author")
        indexes = [
            models.Index(fields=["organization", "hour"], name="report_authorhour_org_hour"),
            models.Index(fields=["conversation", "author_type", "hour"], name="report_authorhour_conv"),
        ]


class ConversationFacts(models.Model):
    """Per conversation in which our agents or the bot wrote before the roll-ups'
    watermark: the time of the last bot message and of the last agent message
    before it. The bot section's cohort and its "an agent wrote" test read these
    instead of probing every conversation's messages."""

    conversation = models.OneToOneField("conversations.Conversation", on_delete=models.CASCADE, primary_key=True,
                                        related_name="report_facts")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    bot_last_at = models.DateTimeField(null=True)
    agent_last_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("conversation facts")
        verbose_name_plural = _("conversation facts")
        indexes = [models.Index(fields=["organization", "bot_last_at"], name="report_facts_org_bot")]


class PricingRate(models.Model):
    """What Meta charges an organisation for one delivered message of a pricing
    category to one market, as its admins enter it from Meta's rate card: the report
    estimates the cost of the billable messages with it. `market` is the calling code
    the customers' WhatsApp ids start with ("55" Brazil, "1" North America...); the
    longest that matches wins, and "" is the rate for every other market."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    market = models.CharField(_("market (calling code)"), max_length=6, blank=True,
                              validators=[RegexValidator(r"^[0-9]*$", _("Digits only."))],
                              help_text=_("Digits the customers' numbers start with; empty for every other market."))
    category = models.CharField(_("pricing category"), max_length=40, help_text=_(
        "As Meta reports it: marketing, marketing_lite, utility, authentication, authentication_international, "
        "service."))
    price = models.DecimalField(_("price per message"), max_digits=10, decimal_places=6,
                                validators=[MinValueValidator(0)])
    currency = models.CharField(_("currency"), max_length=3, default="USD")

    class Meta:
        verbose_name = _("message rate")
        verbose_name_plural = _("message rates")
        constraints = [models.UniqueConstraint(fields=["organization", "market", "category"],
                                               name="pricing_rate_one_per_market_category")]

    def __str__(self):
        return f"{self.market or '*'} {self.category}: {self.price} {self.currency}"
