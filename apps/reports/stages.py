"""How far an outbound message got (sent, delivered, read, failed, pending): one
definition for the live report and the hourly roll-up. A later state implies the
earlier ones, and a time kept for a state counts even when the status moved past it."""

from __future__ import annotations

from django.db.models import Count, Q

from apps.messaging.models import Status

REACHED_META = (Status.SENT, Status.DELIVERED, Status.READ, Status.PLAYED)
REACHED_PHONE = (Status.DELIVERED, Status.READ, Status.PLAYED)
WAS_READ = (Status.READ, Status.PLAYED)


def stage_counts(prefix: str = "") -> dict:
    """The stage counts as aggregates, named `prefix` + sent, delivered, read, failed, pending."""
    return {
        f"{prefix}sent": Count("pk", filter=Q(sent_at__isnull=False) | Q(status__in=REACHED_META)
                               | Q(delivered_at__isnull=False)),
        f"{prefix}delivered": Count("pk", filter=Q(delivered_at__isnull=False) | Q(status__in=REACHED_PHONE)),
        f"{prefix}read": Count("pk", filter=Q(read_at__isnull=False) | Q(status__in=WAS_READ)),
        f"{prefix}failed": Count("pk", filter=Q(status=Status.FAILED)),
        f"{prefix}pending": Count("pk", filter=Q(status=Status.PENDING)),
    }
