from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Business-event notifications: templates sent on a business system's events."""

    name = "apps.notifications"
    label = "notifications"
