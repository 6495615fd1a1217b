"""The stored deliveries over time: replay them, and prune them on a schedule."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import WebhookEvent

# Deliveries deleted per transaction by the prune: short transactions, however large
# the backlog (the first run after an upgrade may find months of rows).
PRUNE_BATCH = 1000


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


def webhook_events_prune(*, batch: int = PRUNE_BATCH) -> int:
    """Delete the deliveries kept past their retention: processed and unknown-number
    ones after WEBHOOK_RETENTION_DAYS, rejected ones after WEBHOOK_REJECTED_RETENTION_DAYS.
    Deliveries still to process (received, failed) and dead letters (waiting for an
    admin's replay) are never deleted; account events keep their row and lose the
    link (SET_NULL). Returns how many were deleted."""
    now = timezone.now()
    Status = WebhookEvent.Status
    expired = Q(status__in=[Status.PROCESSED, Status.UNROUTED],
                received_at__lt=now - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)) | Q(
        status=Status.REJECTED, received_at__lt=now - timedelta(days=settings.WEBHOOK_REJECTED_RETENTION_DAYS))
    total = 0
    while True:
        with transaction.atomic():
            ids = list(WebhookEvent.objects.filter(expired).order_by("received_at", "id")
                       .values_list("id", flat=True)[:batch])
            if not ids:
                return total
            # Filtered again: a row replayed meanwhile (received again) is kept.
            total += WebhookEvent.objects.filter(expired, pk__in=ids).delete()[1].get(WebhookEvent._meta.label, 0)
