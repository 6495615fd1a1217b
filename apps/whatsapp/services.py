"""Use-cases of the Meta boundary: store a webhook delivery, process it, replay it.

The view stores a delivery with one INSERT and enqueues `process_webhook_event`;
the task calls `webhook_event_process`, which parses the body (a pure function,
parser.py), routes every item to its number and organisation, and hands each item
to its use-case inside a savepoint of its own, so one bad item never loses the
others. Processing is idempotent, so Meta's retries and our replays change nothing
twice.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import re
import threading
import time

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from . import events as ev
from .models import AccountEvent, Provider, WebhookEvent, WhatsAppNumber
from .parser import ParseError, parse_webhook

logger = logging.getLogger(__name__)

# What is kept of a body we could not authenticate.
UNAUTHENTICATED_BODY_LIMIT = 64 * 1024
# Processing attempts before an event becomes a dead letter (replay brings it back).
MAX_ATTEMPTS = 8
KEPT_HEADERS = ("CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_USER_AGENT", "HTTP_X_HUB_SIGNATURE_256", "HTTP_X_FORWARDED_FOR")


def retry_delay(attempts: int) -> int:
    """Seconds before the next attempt: 30 s, 1, 2, 4 ... minutes, at most an hour."""
    return min(3600, 30 * 2 ** max(0, attempts - 1))


def request_headers(meta: dict) -> dict:
    return {key: str(meta[key])[:512] for key in KEPT_HEADERS if meta.get(key)}


# --- Receiving --------------------------------------------------------------------------


def webhook_reject(*, body: bytes, headers: dict, remote_addr: str | None, signature: str, reason: str,
                   authenticated: bool = False) -> WebhookEvent:
    """Keep a refused delivery for admins: counted, never processed."""
    if not authenticated:
        body = body[:UNAUTHENTICATED_BODY_LIMIT]
    return WebhookEvent.objects.create(
        provider=Provider.META,
        body=body,
        headers=headers,
        remote_addr=remote_addr or None,
        signature=signature,
        status=WebhookEvent.Status.REJECTED,
        reason=reason,
    )


def webhook_accept(*, body: bytes, headers: dict, remote_addr: str | None) -> WebhookEvent | None:
    """Store an authenticated delivery and have it processed once this commits:
    batched (one INSERT, the drain is woken; returns None) or by a task of its own."""
    from apps.core.tasks import enqueue

    from .tasks import process_webhook_event

    if drain_enabled():
        _insert_received(body=body, headers=headers, remote_addr=remote_addr)
        transaction.on_commit(wake_drain)
        return None
    event = WebhookEvent.objects.create(
        provider=Provider.META,
        body=body,
        headers=headers,
        remote_addr=remote_addr or None,
        signature=WebhookEvent.Signature.VALID,
    )
    enqueue(process_webhook_event, event.pk)
    return event


def _insert_received(*, body: bytes, headers: dict, remote_addr: str | None) -> None:
    """The acknowledgement's only query: the row the drain will claim, written with
    one plain INSERT (the ORM's save machinery was most of the request's own time)."""
    using = WebhookEvent.objects.db
    connection = connections[using]
    qn = connection.ops.quote_name
    table = qn(WebhookEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({qn('provider')}, {qn('body')}, {qn('headers')}, {qn('remote_addr')}, "
            f"{qn('signature')}, {qn('status')}, {qn('reason')}, {qn('error')}, {qn('attempts')}, "
            f"{qn('received_at')}) VALUES (%s, %s, %s::jsonb, %s::inet, %s, %s, '', '', 0, %s)",
            [Provider.META.value, body, json.dumps(headers), remote_addr or None,
             WebhookEvent.Signature.VALID.value, WebhookEvent.Status.RECEIVED.value, timezone.now()],
        )


def drain_enabled() -> bool:
    """Batched processing: Celery and PostgreSQL (FOR UPDATE SKIP LOCKED). Elsewhere
    (SQLite, the thread and eager runners) each delivery gets a task of its own."""
    if settings.TASK_RUNNER != "celery" or not getattr(settings, "WEBHOOK_DRAIN", True):
        return False
    return connections[WebhookEvent.objects.db].vendor == "postgresql"


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
DRAIN_QUEUED_TTL = 5


def drain_request() -> None:
    """Send a drain task unless one is already queued (see DRAIN_QUEUED_KEY)."""
    from django.core.cache import cache

    from .tasks import drain_webhook_events

    try:
        if not cache.add(DRAIN_QUEUED_KEY, 1, timeout=DRAIN_QUEUED_TTL):
            return
    except Exception:  # the cache is down: send anyway, an extra task is harmless
        logger.warning("drain coalescing unavailable", exc_info=True)
    try:
        drain_webhook_events.apply_async()
    except Exception:  # the broker is down: the rows are stored, the sweep will find them
        logger.exception("could not wake the inbound worker")
        _drain_started()


def _drain_started() -> None:
    from django.core.cache import cache

    try:
        cache.delete(DRAIN_QUEUED_KEY)
    except Exception:
        logger.warning("drain coalescing unavailable", exc_info=True)


# --- Processing ---------------------------------------------------------------------------


class _Run:
    """What processing one delivery found, item by item."""

    def __init__(self, event: WebhookEvent):
        self.event = event
        self.routed = 0
        self.unrouted: list[str] = []
        self.notes: list[str] = []
        self.errors: list[str] = []
        self.numbers: dict[str, WhatsAppNumber] = {}
        self.by_waba: dict[str, list[WhatsAppNumber]] = {}

    def route(self, number: WhatsAppNumber | None, item: ev.Event, what: str) -> bool:
        if number is None:
            self.unrouted.append(f"{item.path}: {what}")
            return False
        self.routed += 1
        if self.event.number_id is None:
            self.event.number = number
            self.event.organization_id = number.organization_id
        return True


def webhook_event_process(*, event_id: int) -> WebhookEvent | None:
    """Process one stored delivery. Safe to run twice: a processed event is left
    alone, and every item is idempotent on Meta's ids."""
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
            if event is None or event.status not in (WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED):
                return event
            event.attempts += 1
            _process(event)
            event.processed_at = timezone.now()
            event.save(update_fields=["status", "reason", "error", "attempts", "processed_at", "number",
                                      "organization"])
            return event
    except Exception as exc:  # the whole run failed (database gone, a bug): retry later
        logger.exception("webhook event %s failed", event_id)
        event = WebhookEvent.objects.filter(pk=event_id).first()
        if event is None:
            return None
        event.attempts += 1
        event.status = WebhookEvent.Status.DEAD if event.attempts >= MAX_ATTEMPTS else WebhookEvent.Status.FAILED
        event.error = f"{type(exc).__name__}: {exc}"[:10000]
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "error", "attempts", "processed_at"])
        return event


def _process(event: WebhookEvent) -> None:
    _process_batch([event])


def _numbers_for(items: list[ev.Event], *, cached: bool = False
                 ) -> tuple[dict[str, WhatsAppNumber], dict[str, list[WhatsAppNumber]]]:
    phone_ids = {item.phone_number_id for item in items if isinstance(item, ev.NumberEvent)}
    wabas = {item.waba_id for item in items if not isinstance(item, ev.NumberEvent) and item.waba_id}
    numbers: dict[str, WhatsAppNumber] = {}
    by_waba: dict[str, list[WhatsAppNumber]] = {}
    if not (phone_ids or wabas):
        return numbers, by_waba
    found = _numbers_cached(phone_ids) if cached and not wabas else None
    if found is None:
        from django.db.models import Q

        found = list(WhatsAppNumber.objects.filter(
            Q(phone_number_id__in=phone_ids) | Q(waba_id__in=wabas)
        ).select_related("organization"))
        if cached:
            _numbers_remember(found)
    for number in found:
        numbers[number.phone_number_id] = number
        by_waba.setdefault(number.waba_id, []).append(number)
    return numbers, by_waba


# The numbers (with their organisation) the drains looked up, kept per process for
# INBOUND_NUMBER_CACHE_SECONDS: at 100 deliveries/s the inbound worker runs dozens of
# small drains a second, and reading the number and its organisation through the ORM
# was the costliest query of each (about 1.5 ms of CPU). Only the drains' first try
# uses it (a second try, the single path and its retries read afresh). Only found
# numbers are kept (a number added a moment ago is found at once); a change to a
# number or its organisation reaches the drains within that many seconds (a number
# deleted meanwhile fails the drain, which clears the cache: the deliveries wait for
# the next drain). Each drain gets its own copies, so nothing one drain sets on them
# leaks into another.
_number_cache: dict[str, tuple[float, WhatsAppNumber]] = {}


def _numbers_cached(phone_ids: set[str]) -> list[WhatsAppNumber] | None:
    ttl = settings.INBOUND_NUMBER_CACHE_SECONDS
    if ttl <= 0:
        return None
    now, found = time.monotonic(), []
    for phone_id in phone_ids:
        hit = _number_cache.get(phone_id)
        if hit is None or now - hit[0] >= ttl:
            return None
        found.append(_number_copy(hit[1]))
    return found


def _numbers_remember(numbers: list[WhatsAppNumber]) -> None:
    if settings.INBOUND_NUMBER_CACHE_SECONDS <= 0:
        return
    now = time.monotonic()
    if len(_number_cache) > 10_000:
        _number_cache.clear()
    for number in numbers:
        _number_cache[number.phone_number_id] = (now, _number_copy(number))


def _number_copy(number: WhatsAppNumber) -> WhatsAppNumber:
    copied = copy.copy(number)
    copied.organization = copy.copy(number.organization)
    return copied


def number_cache_clear(*, setting: str = "INBOUND_NUMBER_CACHE_SECONDS", **_kwargs) -> None:
    """Forget the cached numbers (also Django's setting_changed receiver)."""
    if setting == "INBOUND_NUMBER_CACHE_SECONDS":
        _number_cache.clear()


def _process_batch(events: list[WebhookEvent], *, isolated: bool = True, cached_numbers: bool = False) -> None:
    """Process deliveries (already counted an attempt, in the caller's transaction)
    and set each one's status. The plain customer messages of all of them are
    stored together, per number (inbound.messages_receive_batch); every other item
    (statuses, reactions, edits, notices...) on its own, after them. Should a batch
    fail, its items are handled one by one, so one bad message loses nothing else.

    `isolated=False`: the caller undoes everything and processes the deliveries one
    by one should anything fail (the drain's first try), so the batches of messages
    and statuses run without a savepoint of their own (two round trips less each)
    and their failure is raised. `cached_numbers`: the numbers may come from the
    drains' cache (_numbers_for)."""
    from apps.messaging.services import inbound

    runs: list[tuple[_Run, list[ev.Event]]] = []
    for event in events:
        try:
            items = parse_webhook(json.loads(bytes(event.body)))
        except (ValueError, ParseError) as exc:  # cannot get better by retrying
            event.status, event.reason, event.error = WebhookEvent.Status.DEAD, f"unparsable: {exc}", ""
            continue
        runs.append((_Run(event), items))
    numbers, by_waba = _numbers_for([item for _, items in runs for item in items], cached=cached_numbers)
    batches: dict[str, list[tuple[_Run, ev.InboundMessage]]] = {}
    status_batches: dict[str, list[tuple[_Run, ev.StatusUpdate]]] = {}
    rest: list[tuple[_Run, ev.Event]] = []
    for run, items in runs:
        run.numbers, run.by_waba = numbers, by_waba
        for item in items:
            if (isinstance(item, ev.InboundMessage) and item.type not in inbound.BATCH_EXCLUDED_TYPES
                    and item.phone_number_id in numbers):
                batches.setdefault(item.phone_number_id, []).append((run, item))
            elif isinstance(item, ev.StatusUpdate) and item.phone_number_id in numbers:
                status_batches.setdefault(item.phone_number_id, []).append((run, item))
            else:
                rest.append((run, item))
    for phone_number_id, pairs in batches.items():
        number = numbers[phone_number_id]
        try:
            with _savepoint(isolated):
                inbound.messages_receive_batch(number=number, events=[item for _, item in pairs])
        except Exception:
            if not isolated:
                raise
            logger.warning("batch of %d messages failed; storing them one by one", len(pairs), exc_info=True)
            rest[:0] = pairs
        else:
            for run, item in pairs:
                run.route(number, item, phone_number_id)
    # Statuses after the messages (as before: a status may be for a message of the
    # same drain), per number, one batch each (statuses.statuses_apply_batch).
    from apps.messaging.services import statuses

    for phone_number_id, pairs in status_batches.items():
        number = numbers[phone_number_id]
        try:
            with _savepoint(isolated):
                outcomes = statuses.statuses_apply_batch(number=number, updates=[item for _, item in pairs])
        except Exception:
            if not isolated:
                raise
            logger.warning("batch of %d statuses failed; applying them one by one", len(pairs), exc_info=True)
            rest[:0] = pairs
            continue
        for (run, item), outcome in zip(pairs, outcomes):
            run.route(number, item, phone_number_id)
            if outcome == "pending":
                run.notes.append(f"{item.path}: status {item.status} waits for message {item.wamid}")
    for run, item in rest:
        try:
            with transaction.atomic():
                _handle(run, item)
        except Exception as exc:
            logger.exception("webhook event %s: %s failed", run.event.pk, item.path)
            run.errors.append(f"{item.path}: {type(exc).__name__}: {exc}")
    for run, _ in runs:
        _finish(run)


def _savepoint(isolated: bool):
    return transaction.atomic() if isolated else contextlib.nullcontext()


def _finish(run: _Run) -> None:
    event = run.event
    notes = list(run.notes)
    if run.unrouted:
        notes.append("unknown number: " + "; ".join(run.unrouted))
    event.reason = "\n".join(notes)[:10000]
    event.error = "\n".join(run.errors)[:10000]
    if run.errors:
        event.status = WebhookEvent.Status.DEAD if event.attempts >= MAX_ATTEMPTS else WebhookEvent.Status.FAILED
    elif run.unrouted and not run.routed:
        event.status = WebhookEvent.Status.UNROUTED
    else:
        event.status = WebhookEvent.Status.PROCESSED


# How many stored deliveries one drain transaction claims.
DRAIN_BATCH = 200
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

    from .tasks import process_webhook_event

    with transaction.atomic():
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
            _events_save([by_pk[pk] for pk in singles])
        for event in events:
            if event.status == WebhookEvent.Status.FAILED:
                enqueue(process_webhook_event, event.pk, countdown=retry_delay(event.attempts))
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


def _events_save(events: list[WebhookEvent]) -> None:
    """Write SAVED_FIELDS of many events with one statement: UPDATE … FROM (VALUES …)
    on PostgreSQL (the ORM's bulk_update builds a CASE per field and row)."""
    connection = connections[WebhookEvent.objects.db]
    if connection.vendor != "postgresql":
        WebhookEvent.objects.bulk_update(events, SAVED_FIELDS)
        return
    qn = connection.ops.quote_name
    columns = [WebhookEvent._meta.get_field(name).column for name in SAVED_FIELDS]
    types = [WebhookEvent._meta.get_field(name).db_type(connection) for name in SAVED_FIELDS]
    row = "(%s::bigint, " + ", ".join(f"%s::{db_type}" for db_type in types) + ")"
    params = []
    for event in events:
        params.append(event.pk)
        params.extend(getattr(event, name) for name in SAVED_FIELDS)
    assignments = ", ".join(f"{qn(column)} = v.{qn(column)}" for column in columns)
    value_columns = ", ".join(qn(column) for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(WebhookEvent._meta.db_table)} AS e SET {assignments} FROM (VALUES "
            f"{', '.join([row] * len(events))}) AS v(id, {value_columns}) WHERE e.id = v.id",
            params,
        )


def webhook_events_sweep(*, older_than_seconds: float = 60.0) -> int:
    """The safety net behind the wake-ups: drain what is waiting (batched mode), or
    queue again the deliveries still received after `older_than_seconds` (their
    task was lost). Returns how many deliveries it handled."""
    if drain_enabled():
        total = 0
        while claimed := webhook_events_drain():
            total += claimed
            if claimed < DRAIN_BATCH:
                break
        return total
    from datetime import timedelta

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED, received_at__lt=cutoff)
    from apps.core.tasks import enqueue

    from .tasks import process_webhook_event

    ids = list(stale.order_by("received_at", "id").values_list("id", flat=True)[:10000])
    with transaction.atomic():
        for event_id in ids:
            enqueue(process_webhook_event, event_id)
    return len(ids)


def _handle(run: _Run, item: ev.Event) -> None:
    from apps.conversations import services as conversation_services
    from apps.messaging.services import inbound, statuses

    if isinstance(item, ev.Malformed):
        run.notes.append(f"{item.path}: {item.reason}")
        return
    if isinstance(item, ev.NumberEvent):
        number = run.numbers.get(item.phone_number_id)
        if not run.route(number, item, item.phone_number_id or "no phone_number_id"):
            return
        if isinstance(item, ev.InboundMessage):
            inbound.message_receive(number=number, event=item)
        elif isinstance(item, ev.StatusUpdate):
            outcome = statuses.status_apply(number=number, update=item)
            if outcome == "pending":
                run.notes.append(f"{item.path}: status {item.status} waits for message {item.wamid}")
        elif isinstance(item, ev.UserPreference):
            if item.category in ("marketing_messages", "") and item.value in ("stop", "resume"):
                conversation_services.contact_marketing_preference_set(
                    organization=number.organization,
                    wa_id=item.wa_id,
                    opted_out=item.value == "stop",
                    at=item.timestamp or timezone.now(),
                )
            else:
                run.notes.append(f"{item.path}: preference {item.category}={item.value} not handled")
        elif isinstance(item, ev.ValueErrors):
            _account_event_store(run, item, number=number, field="errors",
                                 event=str((item.errors[0] or {}).get("code", "")) if item.errors else "",
                                 value={"errors": item.errors}, entry_time=None)
        return
    if isinstance(item, ev.TemplateUpdate):
        numbers = run.by_waba.get(item.waba_id) or []
        if not run.route(numbers[0] if numbers else None, item, f"WABA {item.waba_id}"):
            return
        from apps.message_templates.services import template_apply_webhook

        seen = set()
        for number in numbers:  # a WABA shared by several organisations' numbers is unusual; apply to each
            if number.organization_id in seen:
                continue
            seen.add(number.organization_id)
            if template_apply_webhook(organization=number.organization, waba_id=item.waba_id, field=item.field,
                                      value=item.value) is None:
                run.notes.append(f"{item.path}: template {item.value.get('message_template_id')} not known")
        return
    if isinstance(item, ev.AccountNotice):
        numbers = run.by_waba.get(item.waba_id) or []
        number = _number_by_display(numbers, item.display_phone_number)
        organization_number = number or (numbers[0] if numbers else None)
        run.route(organization_number, item, f"WABA {item.waba_id}")
        created = _account_event_store(run, item, number=number, field=item.field, event=item.event,
                                       value=item.value, entry_time=item.entry_time,
                                       organization_id=organization_number.organization_id
                                       if organization_number else None)
        if created and number is not None and item.field == "phone_number_quality_update":
            _number_quality_update(number, item.value)


def _number_by_display(numbers: list[WhatsAppNumber], display: str) -> WhatsAppNumber | None:
    digits = re.sub(r"\D", "", display or "")
    if not digits:
        return numbers[0] if len(numbers) == 1 else None
    for number in numbers:
        if re.sub(r"\D", "", number.display_phone_number) == digits:
            return number
    return None


def _account_event_store(run: _Run, item: ev.Event, *, number, field: str, event: str, value: dict, entry_time,
                         organization_id=None) -> bool:
    """Store an account notice once: Meta's redelivery and our replay find the same key."""
    key = hashlib.sha256(
        json.dumps({"waba": item.waba_id, "field": field, "time": entry_time, "value": value}, sort_keys=True,
                   default=str).encode()
    ).hexdigest()
    if AccountEvent.objects.filter(waba_id=item.waba_id, field=field, payload__key=key).exists():
        return False
    AccountEvent.objects.create(
        organization_id=organization_id if organization_id is not None else (number.organization_id if number else None),
        number=number,
        waba_id=item.waba_id,
        field=field[:64],
        event=event[:64],
        payload={"key": key, "time": entry_time, "value": value},
        webhook_event=run.event,
    )
    return True


def _number_quality_update(number: WhatsAppNumber, value: dict) -> None:
    changes = {}
    limit = value.get("current_limit")
    if limit:
        changes["messaging_limit"] = str(limit)[:40]
    quality = value.get("quality_rating") or value.get("new_quality_score")
    if not quality and str(value.get("event", "")).upper() in ("FLAGGED", "UNFLAGGED"):
        quality = str(value["event"]).upper()
    if quality:
        changes["quality_rating"] = str(quality)[:20]
    if changes:
        WhatsAppNumber.objects.filter(pk=number.pk).update(**changes)


# --- Replay ---------------------------------------------------------------------------------


def webhook_events_replay(*, events) -> int:
    """Process stored deliveries again (a queryset or ids): dead letters, failures,
    or a whole time range. Rejected deliveries are never replayed. Returns how many
    were queued."""
    from apps.core.tasks import enqueue

    from .tasks import process_webhook_event

    if not hasattr(events, "model"):
        events = WebhookEvent.objects.filter(pk__in=list(events))
    ids = list(events.exclude(status=WebhookEvent.Status.REJECTED).order_by("received_at", "id")
               .values_list("id", flat=True))
    with transaction.atomic():
        WebhookEvent.objects.filter(pk__in=ids).update(status=WebhookEvent.Status.RECEIVED, attempts=0, error="")
        for event_id in ids:
            enqueue(process_webhook_event, event_id)
    return len(ids)
