"""Serving media: an access-checked redirect, and local signed links."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import FileResponse, Http404, HttpResponse, HttpResponseForbidden, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import selectors
from .models import Media


def _open(request, media_id: int, *, thumbnail: bool):
    media = selectors.media_get_for_user(user=request.user, media_id=media_id)
    if media is None:
        raise Http404
    url = selectors.media_url_for(media=media, user=request.user, thumbnail=thumbnail)
    if url is None:
        return HttpResponse(
            _("This file is not available: %(state)s.") % {"state": media.get_state_display()},
            status=410,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponseRedirect(url)


@require_GET
@never_cache
@login_required
def media_open(request, media_id: int):
    return _open(request, media_id, thumbnail=False)


@require_GET
@never_cache
@login_required
def media_thumbnail(request, media_id: int):
    return _open(request, media_id, thumbnail=True)


@require_GET
def media_serve(request, token: str):
    """A local signed link: the token is the permission, for MEDIA_URL_TTL seconds."""
    try:
        media_id, field = selectors.signed_link_resolve(token)
    except signing.BadSignature:
        return HttpResponseForbidden(_("This link is invalid or has expired."))
    media = Media.objects.filter(pk=media_id).first()
    fieldfile = getattr(media, field) if media is not None else None
    if not fieldfile:
        raise Http404
    try:
        handle = fieldfile.storage.open(fieldfile.name, "rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(
        handle,
        content_type=selectors.content_type(media, field),
        as_attachment=not selectors.is_inline(media, field),
        filename=selectors.download_name(media, field),
    )
    response["Cache-Control"] = "private, max-age=60"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
