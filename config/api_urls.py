"""Every REST endpoint, under /api/v1/. Each app contributes its own api.py routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.accounts.api_urls")),
    path("", include("apps.conversations.api_urls")),
    path("", include("apps.messaging.api_urls")),
    path("", include("apps.media.api_urls")),
    path("", include("apps.message_templates.api_urls")),
    path("", include("apps.bot.api_urls")),
    path("", include("apps.notifications.api_urls")),
    path("", include("apps.reports.api_urls")),
]
