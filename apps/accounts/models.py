from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from .signals import credentials_changed

DEFAULT_OPT_OUT_KEYWORDS = ["STOP", "SAIR", "CANCELAR", "REMOVER", "PARAR", "UNSUBSCRIBE"]
DEFAULT_OPT_IN_KEYWORDS = ["START", "VOLTAR"]


def default_opt_out_keywords():
    return list(DEFAULT_OPT_OUT_KEYWORDS)


def default_opt_in_keywords():
    return list(DEFAULT_OPT_IN_KEYWORDS)


class Organization(models.Model):
    """A tenant. Every customer-data row belongs to exactly one organisation."""

    class ResolvedPolicy(models.TextChoices):
        REOPEN = "reopen", _("Reopen the resolved conversation")
        NEW = "new", _("Start a new conversation")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    opt_out_keywords = models.JSONField(_("opt-out keywords"), default=default_opt_out_keywords, blank=True)
    opt_in_keywords = models.JSONField(_("opt-in keywords"), default=default_opt_in_keywords, blank=True)
    on_message_to_resolved = models.CharField(
        _("when a customer writes to a resolved conversation"),
        max_length=10,
        choices=ResolvedPolicy.choices,
        default=ResolvedPolicy.REOPEN,
    )
    mark_read_on_open = models.BooleanField(_("mark customer messages read when an agent opens them"), default=True)
    keep_revoked_content = models.BooleanField(
        _("keep the content of messages the customer deleted (for audit)"), default=False
    )
    media_retention_days = models.PositiveIntegerField(
        _("media retention (days)"), null=True, blank=True, help_text=_("Empty keeps media forever.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]

    def __str__(self):
        return self.name


class User(AbstractUser):
    class Role(models.TextChoices):
        ADMIN = "admin", _("Admin")
        SUPERVISOR = "supervisor", _("Supervisor")
        AGENT = "agent", _("Agent")

    class Availability(models.TextChoices):
        ONLINE = "online", _("Online")
        AWAY = "away", _("Away")
        OFFLINE = "offline", _("Offline")

    # Null only for platform superusers, who administer every organisation.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="users"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.AGENT)
    availability = models.CharField(
        _("availability"), max_length=10, choices=Availability.choices, default=Availability.OFFLINE
    )
    display_name = models.CharField(_("display name"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        indexes = [models.Index(fields=["organization", "role"])]

    # What `name` reads (a User loaded with only these shows its name without a query).
    NAME_FIELDS = ("display_name", "first_name", "last_name", "username")

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def is_org_admin(self) -> bool:
        return self.role == self.Role.ADMIN

    @property
    def is_supervisor_or_admin(self) -> bool:
        return self.role in (self.Role.ADMIN, self.Role.SUPERVISOR)

    # Every path that changes a password (the services, Django's password views and
    # admin forms, `changepassword`) goes through set_password, which sends
    # signals.credentials_changed (received by accounts.services.user_credentials_changed).
    def set_password(self, raw_password):
        super().set_password(raw_password)
        self._credentials_changed()

    def set_unusable_password(self):
        super().set_unusable_password()
        self._credentials_changed()

    def _credentials_changed(self):
        if self.pk is not None and not getattr(self, "_rehashing", False):
            credentials_changed.send(sender=type(self), user=self)

    # check_password re-hashes a right password with newer parameters through
    # set_password (Django 5.2): not a change of credentials.
    def check_password(self, raw_password):
        self._rehashing = True
        try:
            return super().check_password(raw_password)
        finally:
            self._rehashing = False

    async def acheck_password(self, raw_password):
        self._rehashing = True
        try:
            return await super().acheck_password(raw_password)
        finally:
            self._rehashing = False


class Team(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(_("name"), max_length=120)
    members = models.ManyToManyField(User, related_name="teams", blank=True)
    numbers = models.ManyToManyField(
        "whatsapp.WhatsAppNumber",
        related_name="teams",
        blank=True,
        help_text=_("Agents of the team see the unassigned conversations of these numbers."),
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="team_unique_name_per_org")]
        ordering = ["name"]

    def __str__(self):
        return self.name


class ApiToken(models.Model):
    """A REST API token. Only a SHA-256 hash of the key is stored (the key is shown
    once, when issued); `prefix`, its first characters, finds the row."""

    PREFIX_LENGTH = 8

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user"))
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=PREFIX_LENGTH, db_index=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"
