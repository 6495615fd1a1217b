"""What the simulated Graph API received and holds, and how it misbehaves on demand."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SimulatorConfig(models.Model):
    """The one row of settings of the simulator (failure injection, delays).

    Changed in the admin or with POST /simulator/control/.
    """

    status_delay = models.FloatField(
        _("seconds before each status webhook"), default=1.0, help_text=_("sent, then delivered, then read")
    )
    send_status_webhooks = models.BooleanField(_("send status webhooks"), default=True)
    mark_read = models.BooleanField(_("customers read the messages"), default=True)
    latency_ms = models.PositiveIntegerField(_("latency of every answer (ms)"), default=0)
    fail_code = models.IntegerField(_("error code to answer"), null=True, blank=True)
    fail_count = models.PositiveIntegerField(_("for the next N requests"), default=0)
    error_5xx_rate = models.FloatField(_("share of requests answered 500"), default=0.0)
    error_429_rate = models.FloatField(_("share of requests answered 429 (code 130429)"), default=0.0)
    retry_after = models.FloatField(_("Retry-After of 429 answers (s)"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("simulator settings")
        verbose_name_plural = _("simulator settings")

    def __str__(self):
        return str(_("Simulator settings"))

    @classmethod
    def get(cls) -> "SimulatorConfig":
        from .rows import get_one

        config = get_one(cls, "id", 1)
        if config is None:
            config, _created = cls.objects.get_or_create(pk=1)
        return config


class SimulatedRequest(models.Model):
    """Every request the simulated Graph API answered."""

    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    body = models.JSONField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField(null=True, blank=True)
    # When the request arrived (before any injected latency); created_at is when it
    # was answered and logged.
    received_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]


class SimulatedMessage(models.Model):
    """A message as the simulated WhatsApp saw it: sent by the business (out) or
    written on the customer phone page (in)."""

    class Direction(models.TextChoices):
        FROM_BUSINESS = "out", _("From the business")
        FROM_CUSTOMER = "in", _("From the customer")

    phone_number_id = models.CharField(max_length=64, db_index=True)
    customer = models.CharField(max_length=32, db_index=True)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    wamid = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=30)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, default="accepted")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class SimulatedMedia(models.Model):
    media_id = models.CharField(max_length=64, unique=True)
    phone_number_id = models.CharField(max_length=64)
    mime_type = models.CharField(max_length=128)
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    content = models.BinaryField()
    deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)


class SimulatedUpload(models.Model):
    """A Resumable Upload API session: the bytes received so far, and the handle once whole."""

    session_id = models.CharField(max_length=128, unique=True)
    signature = models.CharField(max_length=64)
    app_id = models.CharField(max_length=64)
    file_type = models.CharField(max_length=64)
    file_name = models.CharField(max_length=255, blank=True)
    file_length = models.PositiveBigIntegerField()
    content = models.BinaryField(default=bytes)
    handle = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class SimulatedTemplate(models.Model):
    meta_id = models.CharField(max_length=64, unique=True)
    waba_id = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=15)
    category = models.CharField(max_length=20)
    status = models.CharField(max_length=20, default="APPROVED")
    parameter_format = models.CharField(max_length=12, default="POSITIONAL")
    components = models.JSONField(default=list)
    # The status an archived template goes back to when unarchived.
    status_before_archive = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["waba_id", "name", "language"], name="simulated_template_unique")
        ]

    def as_graph(self) -> dict:
        return {
            "id": self.meta_id,
            "name": self.name,
            "language": self.language,
            "category": self.category,
            "status": self.status,
            "parameter_format": self.parameter_format,
            "components": self.components,
        }


class SimulatedFlow(models.Model):
    """A WhatsApp Flow of a simulated account (GET /{waba-id}/flows)."""

    waba_id = models.CharField(max_length=64, db_index=True)
    flow_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, default="PUBLISHED")
    categories = models.JSONField(default=list)
    # The first screen's id (a navigate send that names another screen is refused).
    screens = models.JSONField(default=list)

    class Meta:
        ordering = ["id"]

    def as_graph(self) -> dict:
        return {"id": self.flow_id, "name": self.name, "status": self.status, "categories": self.categories,
                "validation_errors": []}


class SimulatedCatalog(models.Model):
    """The catalog connected to a simulated account (GET /{waba-id}/product_catalogs),
    with its products' retailer ids (a product message naming another is refused)."""

    waba_id = models.CharField(max_length=64, unique=True)
    catalog_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    products = models.JSONField(default=list)  # [{"retailer_id", "name", "price", "currency"}]
