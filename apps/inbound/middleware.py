"""A short path through the middleware for Meta's webhook deliveries.

A delivery is a signed server-to-server POST: sessions, CSRF (the view is exempt),
authentication, messages, locale, htmx and login throttling do nothing for it, yet
they were a large share of each acknowledgement's time. Placed right after
SecurityMiddleware (HTTPS redirect and security headers still apply), this
middleware hands webhook POSTs straight to the view and leaves every other request
to the full stack.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse


class WebhookFastPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.routes: dict[str, object] | None = None

    def _routes(self) -> dict[str, object]:
        from . import views

        routes = {reverse("inbound:meta"): views.whatsapp_webhook}
        if settings.BENCH_FLOOR_VIEW:
            # The benchmark's floor through this same short path (next to the
            # full-stack floor at /bench/floor/), so both comparisons are printed.
            from apps.core.views import bench_floor

            routes["/bench/floor/short/"] = bench_floor
        return routes

    def __call__(self, request):
        if request.method == "POST":
            if self.routes is None:
                self.routes = self._routes()
            view = self.routes.get(request.path_info)
            if view is not None:
                response = view(request)
                # What CommonMiddleware would add: without it gunicorn answers with
                # chunked encoding, which costs the keep-alive client more.
                if not response.streaming and not response.has_header("Content-Length"):
                    response.headers["Content-Length"] = str(len(response.content))
                return response
        return self.get_response(request)
