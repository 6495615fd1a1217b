"""Media tasks: thin wrappers that take ids and call one service each."""

from __future__ import annotations

from celery import shared_task

from . import services

MAX_RETRIES = 6


def backoff(retries: int) -> int:
    """15 s, 30 s, 1 min, 2 min, 4 min, 8 min."""
    return min(15 * 2**retries, 600)


@shared_task(name="media.mirror_media", bind=True, max_retries=MAX_RETRIES, acks_late=True)
def mirror_media(self, media_id: int) -> None:
    """Copy an inbound file from Meta into our storage (safe to run twice)."""
    try:
        services.media_mirror(media_id=media_id)
    except services.MediaTransientError as exc:
        if self.request.retries >= self.max_retries:
            services.media_mark_failed(
                media_id=media_id,
                reason=f"Could not download the file after {self.max_retries + 1} attempts: {exc}",
            )
            return
        countdown = exc.retry_after if exc.retry_after is not None else backoff(self.request.retries)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="media.expire_retained_media")
def expire_retained_media() -> int:
    """Delete files older than each organisation's media retention (periodic)."""
    return services.media_expire_retained()
