"""Media tasks: thin wrappers that take ids and call one service each."""

from __future__ import annotations

from celery import shared_task

from apps.core.tasks import dispatch

from . import services

MAX_RETRIES = 6


def backoff(retries: int) -> int:
    """15 s, 30 s, 1 min, 2 min, 4 min, 8 min."""
    return min(15 * 2**retries, 600)


@shared_task(name="media.mirror_media", bind=True, max_retries=MAX_RETRIES, acks_late=True)
def mirror_media(self, media_id: int, attempt: int = 0) -> None:
    """Copy an inbound file from Meta into our storage (safe to run twice).

    Transient failures are retried with backoff: by Celery on a worker, and by
    dispatching the task again (with `attempt` counted) on the in-process runners,
    where Celery's own retry cannot re-schedule."""
    attempt = max(attempt, self.request.retries or 0)
    try:
        services.media_mirror(media_id=media_id)
    except services.MediaTransientError as exc:
        if attempt >= MAX_RETRIES:
            services.media_mark_failed(
                media_id=media_id,
                reason=f"Could not download the file after {MAX_RETRIES + 1} attempts: {exc}",
            )
            return
        countdown = exc.retry_after if exc.retry_after is not None else backoff(attempt)
        if self.request.is_eager:
            dispatch(mirror_media, media_id, attempt=attempt + 1, countdown=countdown)
            return
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="media.expire_retained_media")
def expire_retained_media() -> int:
    """Delete files older than each organisation's media retention (periodic)."""
    return services.media_expire_retained()
