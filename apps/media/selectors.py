"""Reads of media files, scoped by the requesting user (apps.accounts.access)."""

from __future__ import annotations

import re

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage
from django.urls import reverse
from django.utils.http import content_disposition_header

from apps.accounts import access
from apps.providers.meta.capabilities import CAPABILITIES

from . import detect
from .models import Media

FIELDS = ("file", "thumbnail")
_SALT = "apps.media.link"


def can_view_media(*, user, media: Media) -> bool:
    """A message's file: whoever may see its conversation. An upload not sent yet:
    its uploader, and the organisation's supervisors and admins."""
    if not access.is_member(user) or media.organization_id != user.organization_id:
        return False
    if media.message_id is not None:
        return access.can_view_conversation(user, media.message.conversation)
    return media.uploaded_by_id == user.pk or user.is_supervisor_or_admin


def media_get_for_user(*, user, media_id: int) -> Media | None:
    media = (
        Media.objects.select_related("message__conversation")
        .filter(pk=media_id, organization_id=getattr(user, "organization_id", None))
        .first()
    )
    if media is None or not can_view_media(user=user, media=media):
        return None
    return media


# A stored file's declared type is the customer's (or Meta's) word. A browser runs
# some types (SVG, HTML, XML, JavaScript...) as a page of our origin, so a file is
# shown inline only when its type is one of these images, videos and sounds, and
# keeps its type only when it is one WhatsApp carries (CAPABILITIES.media_types); any
# other is served as a download of application/octet-stream, on every storage.
INLINE_TYPES = frozenset().union(
    *(CAPABILITIES.media_types[kind] for kind in (detect.IMAGE, detect.STICKER, detect.VIDEO, detect.AUDIO))
)
PASSIVE_TYPES = frozenset().union(*CAPABILITIES.media_types.values())
OCTET_STREAM = "application/octet-stream"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def content_type(media: Media, field: str) -> str:
    """The type a file is served as: its own when WhatsApp carries it, else OCTET_STREAM."""
    if field == "thumbnail":
        return "image/jpeg"
    declared = detect.base_mime(media.mime_type)
    return declared if declared in PASSIVE_TYPES else OCTET_STREAM


def is_inline(media: Media, field: str) -> bool:
    """Images, video and audio of the types WhatsApp carries open in the browser;
    anything else downloads."""
    return field == "thumbnail" or content_type(media, field) in INLINE_TYPES


def download_name(media: Media, field: str) -> str:
    if field == "thumbnail":
        return f"thumbnail-{media.pk}.jpg"
    # A customer's name may hold line breaks: never let it shape a header.
    return _CONTROL.sub("", media.filename) or media.file.name.rsplit("/", 1)[-1]


def signed_link(*, media: Media, field: str = "file") -> str | None:
    """A short-lived link to the stored file (no access check: callers check)."""
    if field not in FIELDS:
        raise ValueError(field)
    fieldfile = getattr(media, field)
    if not fieldfile:
        return None
    storage = fieldfile.storage
    if isinstance(storage, FileSystemStorage):
        token = signing.TimestampSigner(salt=_SALT).sign(f"{media.pk}.{field}")
        return reverse("media:serve", args=[token])
    return storage.url(
        fieldfile.name,
        parameters={
            "ResponseContentDisposition": content_disposition_header(
                not is_inline(media, field), download_name(media, field)),
            "ResponseContentType": content_type(media, field),
        },
        expire=settings.MEDIA_URL_TTL,
    )


def signed_link_resolve(token: str) -> tuple[int, str]:
    """(media id, field) of a local signed link; raises signing.BadSignature (or its
    subclass SignatureExpired) when the token is forged or older than MEDIA_URL_TTL."""
    value = signing.TimestampSigner(salt=_SALT).unsign(token, max_age=settings.MEDIA_URL_TTL)
    media_id, _, field = value.partition(".")
    if field not in FIELDS or not media_id.isdigit():
        raise signing.BadSignature("malformed media link")
    return int(media_id), field


def media_url_for(*, media: Media, user, thumbnail: bool = False) -> str | None:
    """A short-lived link to `media` for `user`, or None when the user may not see it
    or the file is not stored (pending, failed, expired, deleted)."""
    if not can_view_media(user=user, media=media):
        return None
    return signed_link(media=media, field="thumbnail" if thumbnail else "file")
