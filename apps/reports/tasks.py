from celery import shared_task


@shared_task(name="reports.refresh_rollups", ignore_result=True)
def refresh_rollups() -> list[dict]:
    """Every organisation's report roll-ups up to the last closed hour (periodic:
    CELERY_BEAT_SCHEDULE)."""
    from .services import rollup_refresh_all

    return rollup_refresh_all()
