from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    """Business-event notifications: templates sent on a business system's events."""

    name = "apps.notifications"
    label = "notifications"
    verbose_name = _("Business notifications")
