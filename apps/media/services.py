"""Use-cases on media files. The only writers of Media rows and of stored files."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts import access

from . import detect, download
from .models import Media
from .signals import media_changed
from .thumbnails import thumbnail_create

logger = logging.getLogger(__name__)

# Meta keeps an uploaded file for 30 days; re-upload a day early.
META_UPLOAD_LIFETIME = timedelta(days=29)

LIVE_STATES = (Media.State.STORED, Media.State.UPLOADED)


class MediaTransientError(Exception):
    """Mirroring failed in a way a later retry may clear."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class MediaUnavailable(Exception):
    """The stored file is gone (expired, deleted, never stored): it cannot be sent."""


# --- Inbound: mirroring a customer's file ----------------------------------------------
def _media_for_update(media_id: int) -> Media | None:
    return (
        Media.objects.select_related("message__conversation", "message__number", "organization")
        .filter(pk=media_id)
        .first()
    )


def _kind_of(media: Media) -> str:
    if media.kind:
        return media.kind
    message_type = getattr(media.message, "type", "")
    return message_type if message_type in detect.KINDS else detect.kind_for_mime(media.mime_type)


def media_publish(media: Media) -> None:
    """Tell the floors above that the file of `media` changed state (stored, failed,
    removed): messaging announces its message to those who may see it (media_changed,
    connected in MessagingConfig.ready)."""
    if media.message_id is not None:
        media_changed.send(sender=Media, media=media)


def media_mark_failed(*, media_id: int, reason: str) -> Media | None:
    """Give up on a pending file, say why, and tell whoever sees its conversation."""
    with transaction.atomic():
        updated = Media.objects.filter(pk=media_id, state=Media.State.PENDING).update(
            state=Media.State.FAILED, error=reason[:2000]
        )
        media = _media_for_update(media_id)
        if updated and media is not None:
            media_publish(media)
    return media


def _storage_name(media: Media, kind: str, mime_type: str) -> str:
    ext = detect.extension_for(mime_type)
    if kind == detect.DOCUMENT and media.filename:
        name = detect.safe_filename(media.filename, default_stem=f"document-{media.pk}")
        stem, dot, own = name.rpartition(".")
        # Only an extension of a type WhatsApp carries is kept: storages type an object
        # by its name (S3 would label drawing.svg image/svg+xml, which a browser runs).
        if dot and f".{own.lower()}" in detect.EXTENSIONS.values():
            return name
        return f"{stem or name}{ext}"
    return f"{kind}-{media.pk}{ext}"


def media_mirror(*, media_id: int) -> Media | None:
    """Copy a customer's file from Meta into our storage.

    Safe to run twice: only a pending row is mirrored, and the state moves from
    pending to stored with a conditional update (a concurrent loser removes the
    copy it made). Raises MediaTransientError when a retry may help; marks the row
    failed with a reason when the file cannot be had.
    """
    from apps.providers.meta.client import GraphAPIError, client_for
    from apps.providers.meta.parser import media_id_valid

    media = _media_for_update(media_id)
    if media is None or media.state != Media.State.PENDING:
        return media
    message = media.message
    if message is None or not media.meta_media_id:
        return media_mark_failed(media_id=media.pk, reason=_("The file has no WhatsApp media id."))
    if not media_id_valid(media.meta_media_id):  # rows stored before inbound checked the shape
        return media_mark_failed(
            media_id=media.pk, reason=_("The file was not fetched: its WhatsApp media id is not one Meta issues.")
        )
    kind = _kind_of(media)
    limit = detect.inbound_size_limit()
    client = client_for(message.number)

    try:
        info = client.get_media(media.meta_media_id)
    except GraphAPIError as exc:
        if exc.retryable:
            raise MediaTransientError(str(exc), retry_after=exc.retry_after) from exc
        return media_mark_failed(
            media_id=media.pk, reason=_("Meta no longer has this file (expired or deleted): %(error)s") % {"error": exc}
        )
    url = info.get("url") or ""
    if not url:
        return media_mark_failed(media_id=media.pk, reason=_("Meta gave no download address for this file."))
    announced = info.get("file_size")
    if isinstance(announced, int | str) and str(announced).isdigit() and int(announced) > limit:
        return media_mark_failed(
            media_id=media.pk,
            reason=_("The file is %(size)s bytes, above the %(limit)s-byte limit for %(kind)s.")
            % {"size": announced, "limit": limit, "kind": kind},
        )

    try:
        fetched = download.fetch(client, url, max_bytes=limit)
    except download.DownloadRefused as exc:
        return media_mark_failed(media_id=media.pk, reason=str(exc))
    except download.DownloadTransient as exc:
        raise MediaTransientError(str(exc)) from exc
    except GraphAPIError as exc:
        if exc.retryable:
            raise MediaTransientError(str(exc), retry_after=exc.retry_after) from exc
        if exc.http_status in (404, 410):
            reason = _("The file is no longer available at Meta (expired or deleted).")
        else:
            reason = _("Meta refused the download: %(error)s") % {"error": exc}
        return media_mark_failed(media_id=media.pk, reason=reason)

    with fetched.file:
        expected = media.sha256 or info.get("sha256") or ""
        if not download.sha256_matches(expected, bytes.fromhex(fetched.sha256_hex)):
            return media_mark_failed(
                media_id=media.pk,
                reason=_("The downloaded file does not match its checksum (SHA-256); it was not kept."),
            )
        mime_type = detect.base_mime(media.mime_type or info.get("mime_type") or fetched.content_type)
        animated = kind == detect.STICKER and detect.detect(fetched.file).animated
        name = _storage_name(media, kind, mime_type)
        media.file.save(name, File(fetched.file, name=name), save=False)
        thumbnail_name = ""
        if kind == detect.IMAGE:
            fetched.file.seek(0)
            thumbnail_name = thumbnail_create(media=media, fileobj=fetched.file)

    now = timezone.now()
    with transaction.atomic():
        won = Media.objects.filter(pk=media.pk, state=Media.State.PENDING).update(
            state=Media.State.STORED,
            file=media.file.name,
            thumbnail=thumbnail_name,
            size=fetched.size,
            sha256=media.sha256 or fetched.sha256_hex,
            mime_type=media.mime_type or mime_type,
            kind=kind,
            animated=animated,
            stored_at=now,
            error="",
        )
        if not won:  # another run stored it first: drop our copy
            _delete_files(media.file.name, thumbnail_name, storage=media.file.storage)
            return _media_for_update(media.pk)
        media = _media_for_update(media.pk)
        media_publish(media)
    return media


def _delete_files(*names: str, storage) -> None:
    for name in names:
        if not name:
            continue
        try:
            storage.delete(name)
        except Exception:  # a missing file is already what we want
            logger.warning("could not delete stored media file %s", name, exc_info=True)


# --- Outbound: files agents upload -----------------------------------------------------
def media_upload_create(*, organization, uploaded_file, kind: str | None = None, user) -> Media:
    """Validate an agent's file against Meta's types and limits (by its content, not
    its name) and store it, ready to be sent. Raises ValidationError with a message
    that names the accepted types or the limit."""
    if not access.is_member(user) or user.organization_id != organization.pk:
        raise PermissionDenied
    kind = kind or None
    size = uploaded_file.size or 0
    detected = detect.detect(uploaded_file, uploaded_file.name or "")
    try:
        kind, mime_type = detect.check_upload(detected=detected, size=size, kind=kind)
    except ValueError as exc:
        raise ValidationError(str(exc), code="invalid_media") from exc

    digest = hashlib.sha256()
    uploaded_file.seek(0)
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
    uploaded_file.seek(0)

    ext = detect.extension_for(mime_type)
    if kind == detect.DOCUMENT:
        filename = detect.safe_filename(uploaded_file.name or "", default_stem="document")
        if not filename.lower().endswith(ext):
            filename = f"{filename.rsplit('.', 1)[0] if '.' in filename else filename}{ext}"
    else:
        filename = f"{kind}{ext}"

    with transaction.atomic():
        media = Media.objects.create(
            organization=organization,
            kind=kind,
            mime_type=mime_type,
            size=size,
            sha256=digest.hexdigest(),
            filename=filename,
            animated=detected.animated,
            uploaded_by=user,
            state=Media.State.STORED,
            stored_at=timezone.now(),
        )
        media.file.save(filename, uploaded_file, save=False)
        thumbnail_name = ""
        if kind == detect.IMAGE:
            uploaded_file.seek(0)
            thumbnail_name = thumbnail_create(media=media, fileobj=uploaded_file)
        media.thumbnail.name = thumbnail_name
        media.save(update_fields=["file", "thumbnail"])
    return media


def media_upload_to_meta(*, media: Media, number) -> str:
    """The id Meta knows `media` by for `number`, uploading the stored file when there
    is none yet or the last upload is close to Meta's 30-day expiry. GraphAPIError
    propagates (the caller decides about retrying); MediaUnavailable when the file
    is gone."""
    from apps.providers.meta.client import client_for

    now = timezone.now()
    if (
        media.meta_media_id
        and media.meta_uploaded_at is not None
        and media.meta_upload_number_id == number.pk
        and now - media.meta_uploaded_at < META_UPLOAD_LIFETIME
    ):
        return media.meta_media_id
    if media.state not in LIVE_STATES or not media.file:
        raise MediaUnavailable(_("The file is no longer stored (%(state)s).") % {"state": media.get_state_display()})
    filename = media.filename or media.file.name.rsplit("/", 1)[-1]
    with media.file.open("rb") as fileobj:
        meta_media_id = client_for(number).upload_media(fileobj, mime_type=media.mime_type, filename=filename)
    Media.objects.filter(pk=media.pk).update(
        meta_media_id=meta_media_id, meta_uploaded_at=now, meta_upload_number=number, state=Media.State.UPLOADED
    )
    media.meta_media_id, media.meta_uploaded_at, media.meta_upload_number = meta_media_id, now, number
    media.state = Media.State.UPLOADED
    return meta_media_id


# --- Retention and deletion --------------------------------------------------------------
def _remove(media_qs, *, state: str) -> list[int]:
    """Delete the stored files of `media_qs` and move the rows to `state`."""
    removed = []
    for media in media_qs.select_for_update(of=("self",)).only("id", "file", "thumbnail", "state"):
        _delete_files(media.file.name, media.thumbnail.name, storage=media.file.storage)
        removed.append(media.pk)
    if removed:
        Media.objects.filter(pk__in=removed).update(state=state, file="", thumbnail="")
    return removed


def media_expire_retained(*, now=None) -> int:
    """Delete mirrored and uploaded files older than their organisation's
    media_retention_days; the rows stay, marked expired. Safe to run twice."""
    from apps.accounts.models import Organization

    now = now or timezone.now()
    count = 0
    for org_id, days in Organization.objects.filter(media_retention_days__isnull=False).values_list(
        "id", "media_retention_days"
    ):
        cutoff = now - timedelta(days=days)
        with transaction.atomic():
            qs = Media.objects.filter(organization_id=org_id, state__in=LIVE_STATES, stored_at__lt=cutoff)
            count += len(_remove(qs, state=Media.State.EXPIRED))
    return count


def contact_media_delete(*, contact, user) -> int:
    """Delete every stored file of `contact` on their request (an admin's action).
    The rows stay, marked deleted; an audit log entry records who did it."""
    from apps.conversations.models import AuditLogEntry

    if not access.can_manage_settings(user) or contact.organization_id != user.organization_id:
        raise PermissionDenied
    with transaction.atomic():
        qs = Media.objects.filter(
            organization_id=contact.organization_id, message__conversation__contact=contact
        ).exclude(state=Media.State.DELETED)
        removed = _remove(qs, state=Media.State.DELETED)
        AuditLogEntry.objects.create(
            organization_id=contact.organization_id,
            actor=user,
            action="contact.media_deleted",
            data={"contact_id": contact.pk, "media_ids": removed, "count": len(removed)},
        )
    return len(removed)
