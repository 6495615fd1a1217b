"""The batched path of inbound processing (Celery on PostgreSQL): claim the stored
deliveries in batches and process them together (processing._process_batch), with
a second try batch by batch and then delivery by delivery should a batch fail; and
the periodic sweep behind the wake-ups.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from apps.realtime.publish import gathered

from .. import sql
from ..models import WebhookEvent
from .processing import _process_batch, number_cache_clear
from .receiving import _drain_started
from .retries import MAX_ATTEMPTS, retry_delay, transient

logger = logging.getLogger(__name__)

# The task that processes one stored delivery again (apps.inbound.tasks).
PROCESS_TASK = "inbound.process_webhook_event"
# How many stored deliveries one drain transaction claims. Its row locks are held
# until it commits and several drains share a backlog (two drains storing Meta's
# redeliveries of one message wait for each other): a smaller batch keeps each
# transaction well under a second (docs/benchmarks.md, "Drain transactions").
DRAIN_BATCH = 100
SAVED_FIELDS = ("status", "reason", "error", "attempts", "processed_at", "number_id", "organization_id")


def webhook_events_drain_all() -> int:
    """The drain task's work: let the next wake-up send a task again (a delivery
    stored from now on may be missed by the claims below), then drain in batches
    until none is waiting. Returns how many deliveries were claimed."""
    _drain_started()
    total = 0
    while True:
        try:
            claimed = webhook_events_drain()
        except Exception:
            # E.g. a deferred foreign key failing at COMMIT, as a number deleted and
            # added again while cached would: nothing is lost (the deliveries stay
            # received for the next drain), which reads every number afresh.
            number_cache_clear()
            raise
        total += claimed
        if claimed < DRAIN_BATCH:
            return total


def webhook_events_drain(*, limit: int = DRAIN_BATCH) -> int:
    """Claim up to `limit` received deliveries (oldest first, FOR UPDATE SKIP LOCKED,
    so several workers share the backlog) and process them in one transaction.
    Returns how many were claimed. Failed ones are retried by their own task with
    backoff, as on the single path."""
    from apps.core.tasks import enqueue

    # The batch's live events (often hundreds) leave in one delivery after its commit.
    with gathered(), transaction.atomic():
        events = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(status=WebhookEvent.Status.RECEIVED)
            .order_by("received_at", "id")[:limit]
        )
        if not events:
            return 0
        for event in events:
            event.attempts += 1
        try:
            with transaction.atomic():
                _process_batch(events, isolated=False, cached_numbers=True)
        except Exception:
            # Again with a savepoint per batch (a failing batch goes item by item, the
            # others stand) and every number read afresh.
            logger.warning("drain of %d deliveries failed; again batch by batch", len(events), exc_info=True)
            number_cache_clear()
            _process_batch_or_each(events)
        now = timezone.now()
        groups: dict[tuple, list[int]] = {}
        for event in events:
            event.processed_at = now
            key = tuple(getattr(event, f) for f in SAVED_FIELDS)
            groups.setdefault(key, []).append(event.pk)
        singles = []
        for key, ids in groups.items():  # mostly one UPDATE: all processed, one number
            if len(ids) > 1:
                WebhookEvent.objects.filter(pk__in=ids).update(**dict(zip(SAVED_FIELDS, key)))
            else:
                singles.extend(ids)
        if singles:  # each with its own notes (e.g. a status waiting for its message): one UPDATE for all
            by_pk = {event.pk: event for event in events}
            sql.deliveries_save([by_pk[pk] for pk in singles], fields=SAVED_FIELDS)
        for event in events:
            if event.status == WebhookEvent.Status.FAILED:
                soon = getattr(event, "retry_soon", False)
                enqueue(PROCESS_TASK, event.pk, countdown=retry_delay(event.attempts, transient=soon))
    return len(events)


def _process_batch_or_each(events: list[WebhookEvent]) -> None:
    """The drain's second try: batch by batch; should that fail as a whole (a bug, a
    lost connection), delivery by delivery."""
    try:
        with transaction.atomic():
            _process_batch(events)
    except Exception:
        logger.exception("drain of %d deliveries failed; processing them one by one", len(events))
        for event in events:
            try:
                with transaction.atomic():
                    _process_batch([event])
            except Exception as exc:
                event.status = WebhookEvent.Status.DEAD if event.attempts >= MAX_ATTEMPTS else WebhookEvent.Status.FAILED
                event.error = f"{type(exc).__name__}: {exc}"[:10000]
                event.retry_soon = transient(exc)


# A failed delivery's retry is overdue this long after its time: its task was lost
# (held by a worker that died, until the broker's visibility timeout). A live worker
# runs a retry at its time (it holds the task until then), so a short margin suffices;
# running a delivery twice changes nothing.
RETRY_OVERDUE_SECONDS = 20
OVERDUE_PER_SWEEP = 100


def webhook_events_sweep(*, at_start: bool = False) -> int:
    """The safety net behind the wake-ups (periodic): drain what is waiting, should a
    wake-up or its task have been lost, and run the failed deliveries whose retry is
    overdue. `at_start`: the sweep of a worker just ready (config/celery.py), maybe
    after a crash that lost the retry tasks it held: every failed delivery whose retry
    time has come runs, without the margin left for a retry task on its way (running
    one twice changes nothing). Returns how many deliveries it claimed or ran."""
    from .processing import webhook_event_process

    total = 0
    while claimed := webhook_events_drain():
        total += claimed
        if claimed < DRAIN_BATCH:
            break
    now, ran = timezone.now(), 0
    failed = WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED).values_list(
        "pk", "attempts", "processed_at").order_by("processed_at")[:OVERDUE_PER_SWEEP * 10]
    for event_id, attempts, failed_at in failed:
        due = retry_delay(attempts) + (0 if at_start else RETRY_OVERDUE_SECONDS)
        if failed_at is None or (now - failed_at).total_seconds() >= due:
            # Run here, not sent as a task: a sweep never piles tasks up behind a
            # stopped worker; running a delivery twice changes nothing.
            webhook_event_process(event_id=event_id)
            ran += 1
            if ran >= OVERDUE_PER_SWEEP:
                break
    return total + ran
