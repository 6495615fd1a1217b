"""Request guards that hold for every view."""

from __future__ import annotations

import io

from django.conf import settings
from django.core.files import uploadhandler
from django.http import HttpResponseBadRequest, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from . import params

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RequestParameterGuard:
    """Refuse (400, naming the parameter) a query string or form body holding a
    character no database column can store: NUL or a lone surrogate (apps/core/params.py).
    Any view would otherwise pass it to a filter or a row and fail with a 500 on
    PostgreSQL. Form and multipart bodies are read whatever the method (PATCH, PUT,
    DELETE: Django parses only POST's, DRF's parsers every method's). JSON bodies of the
    REST API, and form bodies past what this guard reads, are checked by its parsers
    (apps/core/api.py).

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
        field = params.first_unstorable_field(request.GET)
        if field is not None or request.content_type not in FORM_TYPES:
            return field
        if request.method == "POST":
            return params.first_unstorable_field(request.POST, request.FILES)
        data, files = _form_body(request)
        try:
            return params.first_unstorable_field(data, files) if data is not None else None
        finally:
            for _key, uploads in (files.lists() if files is not None else ()):
                for upload in uploads:
                    upload.close()


def _form_body(request):
    """The form or multipart body of a request other than POST, parsed as Django
    parses POST's (it leaves other methods' bodies to the view): (data, files), or
    (None, None) when it is not read here. The body is read into memory, so only up
    to DATA_UPLOAD_MAX_MEMORY_SIZE (Django's own limit for request.body); past it, and
    for a body that does not parse, the view's parser decides (the REST API's check
    the same, apps/core/api.py). The view reads the body again from memory."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None, None
    if limit is not None and length > limit:
        return None, None
    encoding = request.encoding or settings.DEFAULT_CHARSET
    body = request.body
    if request.content_type != "multipart/form-data":
        return QueryDict(body, encoding=encoding), None
    # Handlers of our own: the view's parser uses the request's afresh.
    handlers = [uploadhandler.load_handler(handler, request) for handler in settings.FILE_UPLOAD_HANDLERS]
    try:
        return MultiPartParser(request.META, io.BytesIO(body), handlers, encoding).parse()
    except MultiPartParserError:
        return None, None
