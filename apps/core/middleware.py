"""Request guards that hold for every view."""

from __future__ import annotations

from django.http import HttpResponseBadRequest

from . import params


class RequestParameterGuard:
    """Refuse (400, naming the parameter) a query string or form body holding a
    character no database column can store: NUL or a lone surrogate (apps/core/params.py).
    Any view would otherwise pass it to a filter or a row and fail with a 500 on
    PostgreSQL. JSON bodies of the REST API are checked by its parser (apps/core/api.py).

    Providers' deliveries are not refused here: a webhook keeps a malformed delivery
    and marks it (its own fast path answers before this middleware in any case).
    """

    EXEMPT_PREFIXES = ("/webhooks/", "/simulator/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(self.EXEMPT_PREFIXES):
            field = self._first_bad(request)
            if field is not None:
                return HttpResponseBadRequest(params.invalid_message(field), content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _first_bad(request) -> str | None:
        sources = [request.GET]
        if request.method == "POST" and request.content_type in ("application/x-www-form-urlencoded",
                                                                 "multipart/form-data"):
            sources.append(request.POST)
        for source in sources:
            for key, values in source.lists():
                if params.unstorable(key):
                    return "?"
                if any(params.unstorable(value) for value in values):
                    return key
        if request.method == "POST" and request.FILES:
            for key, uploaded in request.FILES.items():
                if params.unstorable(getattr(uploaded, "name", "")):
                    return key
        return None
