"""Receiving a delivery: the webhook view's use-cases. Store an authenticated
delivery with one INSERT and wake the inbound worker (processing.py and drain.py
take it from there); keep a refused one for admins, bounded (see webhook_reject).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time

from django.conf import settings
from django.db import transaction

from apps.whatsapp.models import Provider

from .. import sql

logger = logging.getLogger(__name__)

# What is kept of a body we could not authenticate: a prefix for admins to see
# what it was, with the hash of the whole body (repeats are counted on one row).
UNAUTHENTICATED_BODY_LIMIT = 1024
KEPT_HEADERS = ("CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_USER_AGENT", "HTTP_X_HUB_SIGNATURE_256", "HTTP_X_FORWARDED_FOR")
# The shared counter of unauthenticated deliveries in the current minute.
REFUSED_COUNTER_KEY = "whatsapp:webhook:refused:{minute}"


def request_headers(meta: dict) -> dict:
    return {key: str(meta[key])[:512] for key in KEPT_HEADERS if meta.get(key)}


# --- Receiving --------------------------------------------------------------------------


def webhook_reject(*, body: bytes, headers: dict, remote_addr: str | None, signature: str, reason: str,
                   signed_by: str = "", provider: str = Provider.META) -> bool:
    """Keep a refused delivery for admins, never processed. An authenticated one
    (`signed_by`: a malformed body) is kept whole; of an unauthenticated one only a
    prefix, and only WEBHOOK_REFUSED_PER_MINUTE of them a minute (across processes):
    beyond that they are counted and False is returned. The same body refused again
    adds to `repeats` on its row rather than storing another."""
    if not signed_by:
        if not _unauthenticated_allowed():
            return False
        kept = body[:UNAUTHENTICATED_BODY_LIMIT]
    else:
        kept = body
    sql.delivery_refused_upsert(provider=provider, body=kept, digest=hashlib.sha256(body).hexdigest(),
                                headers=headers, remote_addr=remote_addr, signature=signature, reason=reason,
                                signed_by=signed_by)
    return True


def _unauthenticated_allowed() -> bool:
    from django.core.cache import cache

    limit = settings.WEBHOOK_REFUSED_PER_MINUTE
    key = REFUSED_COUNTER_KEY.format(minute=int(time.time() // 60))
    try:
        cache.add(key, 0, timeout=120)
        count = cache.incr(key)
    except Exception:  # no shared counter: store nothing rather than without bound
        logger.warning("the unauthenticated webhook counter is unavailable; not storing", exc_info=True)
        return False
    if count == limit + 1:
        logger.warning("more than %d unauthenticated webhook deliveries this minute: only counting them (%s)",
                       limit, key)
    return count <= limit


def webhook_accept(*, body: bytes, headers: dict, remote_addr: str | None, signed_by: str,
                   provider: str = Provider.META) -> None:
    """Store an authenticated delivery of `provider` with one INSERT (the
    acknowledgement's only query) and, once this commits, wake the inbound worker's
    drain (wake_drain), which reads it with the provider's format."""
    sql.delivery_insert(provider=provider, body=body, headers=headers, remote_addr=remote_addr, signed_by=signed_by)
    transaction.on_commit(wake_drain)


class _Waker:
    """Wakes the inbound worker after deliveries were stored, with no broker round
    trip in the request: the request only sets an event; one daemon thread per
    process sends the drain task, at most once per `interval`. A delivery stored
    while a task is being sent sets the event again, so a drain always starts after
    the last delivery it was woken for. The periodic sweep (whatsapp-sweep-webhook-
    events) catches what a process that died before sending never sent."""

    def __init__(self, interval: float):
        self.interval = interval
        self.pending = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = 0

    def __call__(self) -> None:
        self.pending.set()
        if self.pid != os.getpid():  # first use in this (possibly forked) process
            with self.lock:
                if self.pid != os.getpid():
                    self.pending = threading.Event()
                    self.pending.set()
                    self.thread = threading.Thread(target=self._loop, name="webhook-waker", daemon=True)
                    self.thread.start()
                    self.pid = os.getpid()

    def _loop(self) -> None:
        while True:
            self.pending.wait()
            self.pending.clear()
            drain_request()
            time.sleep(self.interval)


wake_drain = _Waker(settings.WEBHOOK_WAKE_INTERVAL)

# Set (in the shared cache) while a drain task is queued and not yet started: the
# web processes' wake-ups then send nothing more, since that task will take every
# stored delivery. Without it each web process sent a task every 50 ms under load,
# and most of them found nothing left (about 3 ms of the worker's CPU each). The
# drain clears it as it starts, before claiming rows, so a delivery stored after
# that start sends a new task. The TTL bounds the silence should a task be lost
# (the sweep catches up in any case).
DRAIN_QUEUED_KEY = "whatsapp:drain:queued"
# The drain task (apps.inbound.tasks).
DRAIN_TASK = "inbound.drain_webhook_events"
DRAIN_QUEUED_TTL = 5


def drain_request() -> None:
    """Send a drain task unless one is already queued (see DRAIN_QUEUED_KEY)."""
    from django.core.cache import cache

    from apps.core.tasks import dispatch

    try:
        if not cache.add(DRAIN_QUEUED_KEY, 1, timeout=DRAIN_QUEUED_TTL):
            return
    except Exception:  # the cache is down: send anyway, an extra task is harmless
        logger.warning("drain coalescing unavailable", exc_info=True)
    try:
        dispatch(DRAIN_TASK)
    except Exception:  # the broker is down: the rows are stored, the sweep will find them
        logger.exception("could not wake the inbound worker")
        _drain_started()


def _drain_started() -> None:
    from django.core.cache import cache

    try:
        cache.delete(DRAIN_QUEUED_KEY)
    except Exception:
        logger.warning("drain coalescing unavailable", exc_info=True)
