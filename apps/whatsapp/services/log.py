"""The stored deliveries over time: replay them, and prune them on a schedule."""

from __future__ import annotations

from django.db import transaction

from ..models import WebhookEvent

def webhook_events_replay(*, events) -> int:
    """Process stored deliveries again (a queryset or ids): dead letters, failures,
    or a whole time range. Rejected deliveries are never replayed. Returns how many
    were queued."""
    from apps.core.tasks import enqueue

    from ..tasks import process_webhook_event

    if not hasattr(events, "model"):
        events = WebhookEvent.objects.filter(pk__in=list(events))
    ids = list(events.exclude(status=WebhookEvent.Status.REJECTED).order_by("received_at", "id")
               .values_list("id", flat=True))
    with transaction.atomic():
        WebhookEvent.objects.filter(pk__in=ids).update(status=WebhookEvent.Status.RECEIVED, attempts=0, error="")
        for event_id in ids:
            enqueue(process_webhook_event, event_id)
    return len(ids)

