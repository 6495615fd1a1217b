"""Celery tasks of the inbound pipeline: thin, they call services."""

from celery import shared_task

from apps.core.tasks import RETRY_DATABASE, dispatch

from . import services
from .models import WebhookEvent


@shared_task(name="inbound.process_webhook_event", acks_late=True)
def process_webhook_event(event_id: int):
    """Process one stored delivery again (a failed one, or a replay); a failure is
    tried again with exponential backoff until it succeeds or becomes a dead letter
    (the attempts are counted on the event)."""
    event = services.webhook_event_process(event_id=event_id)
    if event is not None and event.status == WebhookEvent.Status.FAILED:
        soon = getattr(event, "retry_soon", False)  # failed on the database's moment, not on the delivery
        dispatch(process_webhook_event, event_id, countdown=services.retry_delay(event.attempts, transient=soon))


@shared_task(name="inbound.drain_webhook_events", acks_late=True, ignore_result=True, **RETRY_DATABASE)
def drain_webhook_events():
    """Process the stored deliveries in batches until none is waiting (woken by
    the webhook view, see services.wake_drain and services.drain_request). A drain
    that finds the database unavailable (connections cut, a restart, a deadlock) is
    tried again within seconds: the deliveries it could not process stay received,
    and no other wake-up may come for them (the burst is over)."""
    services.webhook_events_drain_all()


@shared_task(name="inbound.sweep_webhook_events", ignore_result=True)
def sweep_webhook_events(at_start: bool = False):
    """Periodic safety net: deliveries whose wake-up or task was lost (`at_start`: a
    worker's first sweep, services.webhook_events_sweep)."""
    services.webhook_events_sweep(at_start=at_start)


@shared_task(name="inbound.prune_webhook_events", ignore_result=True)
def prune_webhook_events():
    """Periodic: delete stored deliveries past their retention (WEBHOOK_RETENTION_DAYS,
    WEBHOOK_REJECTED_RETENTION_DAYS)."""
    services.webhook_events_prune()
