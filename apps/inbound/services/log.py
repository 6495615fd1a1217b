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

    from .drain import PROCESS_TASK

    if not hasattr(events, "model"):
        events = WebhookEvent.objects.filter(pk__in=list(events))
    ids = list(events.exclude(status=WebhookEvent.Status.REJECTED).order_by("received_at", "id")
               .values_list("id", flat=True))
    with transaction.atomic():
        WebhookEvent.objects.filter(pk__in=ids).update(status=WebhookEvent.Status.RECEIVED, attempts=0, error="")
        for event_id in ids:
            enqueue(PROCESS_TASK, event_id)
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


def webhook_events_reattribute(*, batch: int = 1000) -> int:
    """Decide again, from their bodies, whose the stored deliveries that have an
    organisation are (delivery_owner), without processing them: deliveries attributed
    before this rule to the first organisation an item reached lose it when their body
    holds anyone else's data. Batch by batch (a short transaction each); returns how
    many changed. Safe to run twice."""
    from apps.providers import inbound_format
    from apps.providers.base import UnusableBody

    from .ownership import delivery_owner
    from .processing import _numbers_for, _stored_signer

    changed, last = 0, 0
    while True:
        with transaction.atomic():
            events = list(WebhookEvent.objects.filter(organization__isnull=False, pk__gt=last)
                          .order_by("pk")[:batch])
            if not events:
                return changed
            last = events[-1].pk
            parts = {}
            for event in events:
                try:
                    parts[event.pk] = inbound_format(event.provider).parts(bytes(event.body))
                except UnusableBody:  # a body we cannot read is nobody's
                    parts[event.pk] = [("", "")]
            numbers, by_waba = _numbers_for([], parts=[part for found in parts.values() for part in found])
            updated = []
            for event in events:
                signer = event.signed_by or _stored_signer(event, numbers)
                organization_id, number = delivery_owner(parts=parts[event.pk], numbers=numbers, by_waba=by_waba,
                                                         signer=signer)
                number_id = number.pk if number is not None else None
                if (event.organization_id, event.number_id) != (organization_id, number_id):
                    event.organization_id, event.number_id = organization_id, number_id
                    updated.append(event)
            WebhookEvent.objects.bulk_update(updated, ["organization", "number"])
            changed += len(updated)
