"""Media tasks: thin wrappers that take ids and call one service each."""

from __future__ import annotations

from celery import shared_task

from apps.core.tasks import dispatch

from . import services

MAX_RETRIES = 6


def backoff(retries: int) -> int:
    """15 s, 30 s, 1 min, 2 min, 4 min, 8 min."""
    return min(15 * 2**retries, 600)


@shared_task(name="media.mirror_media", acks_late=True)
def mirror_media(media_id: int, attempt: int = 0) -> None:
    """Copy an inbound file from Meta into our storage (safe to run twice).

    A transient failure sends the task again with `attempt` counted, after Meta's
    Retry-After or a growing backoff, until MAX_RETRIES; then the file is marked failed."""
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
        dispatch(mirror_media, media_id, attempt=attempt + 1, countdown=countdown)


@shared_task(name="media.expire_retained_media")
def expire_retained_media() -> int:
    """Delete files older than each organisation's media retention (periodic)."""
    return services.media_expire_retained()
