"""Reads of media files, scoped by the requesting user (apps.accounts.access)."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage
from django.urls import reverse

from apps.accounts import access

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


def is_inline(media: Media, field: str) -> bool:
    """Images, video and audio open in the browser; anything else downloads."""
    return field == "thumbnail" or media.mime_type.split("/", 1)[0] in ("image", "video", "audio")


def download_name(media: Media, field: str) -> str:
    if field == "thumbnail":
        return f"thumbnail-{media.pk}.jpg"
    return media.filename or media.file.name.rsplit("/", 1)[-1]


def content_type(media: Media, field: str) -> str:
    if field == "thumbnail":
        return "image/jpeg"
    return (media.mime_type or "application/octet-stream").split(";", 1)[0].strip()


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
    disposition = "inline" if is_inline(media, field) else "attachment"
    name = download_name(media, field).replace('"', "")
    return storage.url(
        fieldfile.name,
        parameters={
            "ResponseContentDisposition": f'{disposition}; filename="{name}"',
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
