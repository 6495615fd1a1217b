from celery import shared_task


@shared_task(name="message_templates.sync_templates", ignore_result=True)
def sync_templates() -> dict:
    """Every organisation's templates from Meta (periodic: CELERY_BEAT_SCHEDULE)."""
    from .services import template_sync_all

    return template_sync_all().as_dict()
