from celery import shared_task


@shared_task(name="whatsapp.read_numbers_status", ignore_result=True)
def read_numbers_status() -> int:
    """Every active Meta number's status from Meta (periodic: CELERY_BEAT_SCHEDULE)."""
    from .health import numbers_status_read

    return numbers_status_read()
