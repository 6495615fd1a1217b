from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("", include("apps.core.urls")),
    path("", include("apps.accounts.urls")),
    path("admin/", admin.site.urls),
    path("webhooks/", include("apps.inbound.urls")),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's set-up as a script of its own (no inline script).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("media/", include("apps.media.urls")),
    path("", include("apps.reports.urls")),
    path("", include("apps.inbox.urls")),
]

if settings.SIMULATOR_ENABLED:
    urlpatterns.insert(0, path("simulator/", include("apps.simulator.urls")))
