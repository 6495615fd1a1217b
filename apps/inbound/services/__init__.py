"""Use-cases of the inbound pipeline: store a webhook delivery, process it, replay it.

The view stores a delivery with one INSERT (receiving.py) and wakes the inbound
worker; the worker reads each body with its provider's format (apps.providers.
inbound_format: a pure parser to typed events), routes every
item to a number whose own secret signed the delivery, and hands each item to its
use-case (processing.py), in batches on PostgreSQL (drain.py); a delivery is an
organisation's, for its admins to read, only when its whole body is (ownership.py).
Processing is idempotent, so Meta's retries and our replays (log.py) change nothing
twice.
"""

from .drain import (
    DRAIN_BATCH,
    SAVED_FIELDS,
    webhook_events_drain,
    webhook_events_drain_all,
    webhook_events_sweep,
)
from .log import PRUNE_BATCH, webhook_events_prune, webhook_events_reattribute, webhook_events_replay
from .processing import _numbers_for, number_cache_clear, webhook_event_process
from .receiving import (
    DRAIN_QUEUED_KEY,
    DRAIN_QUEUED_TTL,
    UNAUTHENTICATED_BODY_LIMIT,
    _Waker,
    drain_request,
    request_headers,
    wake_drain,
    webhook_accept,
    webhook_reject,
)
from .retries import MAX_ATTEMPTS, retry_delay, transient

__all__ = [
    "DRAIN_BATCH", "DRAIN_QUEUED_KEY", "DRAIN_QUEUED_TTL", "MAX_ATTEMPTS", "PRUNE_BATCH", "SAVED_FIELDS",
    "UNAUTHENTICATED_BODY_LIMIT", "_Waker", "_numbers_for",
    "drain_request", "number_cache_clear", "request_headers", "retry_delay", "transient", "wake_drain",
    "webhook_accept", "webhook_event_process", "webhook_events_drain", "webhook_events_drain_all",
    "webhook_events_prune", "webhook_events_reattribute", "webhook_events_replay", "webhook_events_sweep",
    "webhook_reject",
]
