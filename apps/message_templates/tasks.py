from celery import shared_task


@shared_task(name="message_templates.sync_templates", ignore_result=True)
def sync_templates() -> dict:
    """Every organisation's templates from Meta (periodic: CELERY_BEAT_SCHEDULE)."""
    from .services import template_sync_all

    return template_sync_all().as_dict()


@shared_task(name="message_templates.refresh_status", ignore_result=True, bind=True, max_retries=5)
def refresh_status(self, template_id: int) -> None:
    """A template's status read again from Meta (lifecycle.template_status_refresh);
    Meta unreachable: tried again with backoff."""
    from apps.providers.meta.client import GraphAPIError

    from .lifecycle import template_status_refresh

    try:
        template_status_refresh(template_id=template_id)
    except GraphAPIError as error:
        raise self.retry(exc=error, countdown=min(30 * 2 ** self.request.retries, 900)) from error
