"""Processing one stored delivery, or a batch of them (the drain's).

The view stores a delivery with one INSERT and enqueues `process_webhook_event`;
the task calls `webhook_event_process`, which reads the body with its provider's
format (apps.providers.inbound_format: a pure parser to typed events), routes every item to its number and organisation, and hands each item
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
import re
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.providers import events as ev
from apps.providers import inbound_format
from apps.providers.base import Delivery, UnusableBody
from apps.providers.meta.signature import (
    HEADER,
    effective_secret,
    matching_secret,
    secret_fingerprint,
    signed_by_number,
)

from apps.whatsapp.models import WhatsAppNumber

from ..models import AccountEvent, WebhookEvent
from .coexistence import business_app_apply, business_app_apply_batches
from .ownership import delivery_owner
from .retries import MAX_ATTEMPTS, transient

logger = logging.getLogger(__name__)

REFUSED = "not signed by this number's secret"


class _Run:
    """What processing one delivery found, item by item.

    Every item goes only to numbers whose effective secret signed the delivery
    (`signer`, the fingerprint the view recorded): any organisation knows its own
    number's secret, so a valid signature alone says nothing about whose items these
    are. An item naming another number is refused and noted."""

    def __init__(self, event: WebhookEvent, numbers: dict[str, WhatsAppNumber],
                 by_waba: dict[str, list[WhatsAppNumber]], parts: list[tuple[str, str]]):
        self.event = event
        self.parts = parts
        self.routed = 0
        self.unrouted: list[str] = []
        self.refused: list[str] = []
        self.notes: list[str] = []
        self.errors: list[str] = []
        self.transient = True  # every error so far a database failure of the moment (retries.transient)
        self.numbers = numbers
        self.by_waba = by_waba
        self.signer = event.signed_by or _stored_signer(event, numbers)

    def signed(self, number: WhatsAppNumber | None) -> bool:
        return number is not None and signed_by_number(number, self.signer)

    def number(self, item: ev.NumberEvent) -> WhatsAppNumber | None:
        """The item's number if this delivery may reach it; records why not."""
        number = self.numbers.get(item.phone_number_id)
        if number is not None and not self.signed(number):
            self.refused.append(f"{item.path}: phone number {item.phone_number_id} {REFUSED}")
            return None
        self.route(number, item, item.phone_number_id or "no phone_number_id")
        return number

    def waba_numbers(self, item: ev.Event) -> list[WhatsAppNumber] | None:
        """The numbers of the item's WABA this delivery may reach: None (refused,
        recorded) when the WABA is known but none of its numbers signed it."""
        numbers = self.by_waba.get(item.waba_id) or []
        allowed = [number for number in numbers if self.signed(number)]
        if numbers and not allowed:
            self.refused.append(f"{item.path}: WABA {item.waba_id} {REFUSED}")
            return None
        return allowed

    def route(self, number: WhatsAppNumber | None, item: ev.Event, what: str) -> bool:
        if number is None:
            self.unrouted.append(f"{item.path}: {what}")
            return False
        self.routed += 1
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
        event.retry_soon = transient(exc)
        return event


def _process(event: WebhookEvent) -> None:
    _process_batch([event])


def _stored_signer(event: WebhookEvent, numbers: dict[str, WhatsAppNumber]) -> str:
    """A delivery stored before deliveries recorded their signer: the fingerprint of
    the secret its stored signature header matches, among the secrets of the numbers
    it names ("" when none: every item is refused)."""
    header = (event.headers or {}).get(HEADER)
    if not header or event.signature != WebhookEvent.Signature.VALID:
        return ""
    secrets = {effective_secret(number) for number in numbers.values()}
    secret = matching_secret(bytes(event.body), header, sorted(secrets))
    return secret_fingerprint(secret) if secret else ""


def _numbers_for(items: list[ev.Event], *, cached: bool = False, parts: list[tuple[str, str]] = ()
                 ) -> tuple[dict[str, WhatsAppNumber], dict[str, list[WhatsAppNumber]]]:
    phone_ids = {item.phone_number_id for item in items if isinstance(item, ev.NumberEvent)}
    wabas = {item.waba_id for item in items if not isinstance(item, ev.NumberEvent) and item.waba_id}
    phone_ids.update(key for kind, key in parts if kind == "number")
    wabas.update(key for kind, key in parts if kind == "waba")
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
    from apps.bot.services import bot_on_inbound_message
    from apps.messaging.services import inbound

    parsed: list[tuple[WebhookEvent, list[tuple[str, str]], list[ev.Event]]] = []
    for event in events:
        # Set again by _finish: a delivery is nobody's until its body says whose it is.
        event.number, event.organization = None, None
        delivery = _read(event)
        if delivery is not None:
            parsed.append((event, delivery.parts, delivery.items))
    numbers, by_waba = _numbers_for([item for _, _, items in parsed for item in items], cached=cached_numbers,
                                    parts=[part for _, parts, _ in parsed for part in parts])
    runs = [(_Run(event, numbers, by_waba, parts), items) for event, parts, items in parsed]
    batches: dict[str, list[tuple[_Run, ev.InboundMessage]]] = {}
    status_batches: dict[str, list[tuple[_Run, ev.StatusUpdate]]] = {}
    business_app: dict[str, list[tuple[_Run, ev.Event]]] = {}
    rest: list[tuple[_Run, ev.Event]] = []
    for run, items in runs:
        for item in items:
            # An item for a number that did not sign the delivery goes to `rest`,
            # where _handle refuses it and notes why.
            if (isinstance(item, ev.InboundMessage) and item.type not in inbound.BATCH_EXCLUDED_TYPES
                    and run.signed(numbers.get(item.phone_number_id))):
                batches.setdefault(item.phone_number_id, []).append((run, item))
            elif isinstance(item, ev.StatusUpdate) and run.signed(numbers.get(item.phone_number_id)):
                status_batches.setdefault(item.phone_number_id, []).append((run, item))
            elif (isinstance(item, ev.BusinessMessage | ev.AddressBookChange)
                  and run.signed(numbers.get(item.phone_number_id))):
                business_app.setdefault(item.phone_number_id, []).append((run, item))
            else:
                rest.append((run, item))
    for phone_number_id, pairs in _lock_order(batches, numbers):
        number = numbers[phone_number_id]
        try:
            with _savepoint(isolated):
                for message in inbound.messages_receive_batch(number=number, events=[item for _, item in pairs]):
                    bot_on_inbound_message(message=message)
        except Exception:
            if not isolated:
                raise
            logger.warning("batch of %d messages failed; storing them one by one", len(pairs), exc_info=True)
            rest[:0] = pairs
        else:
            for run, item in pairs:
                run.route(number, item, phone_number_id)
    # Statuses after the messages (as before: a status may be for a message of the
    # same drain), per number, one batch each (statuses.statuses_apply).
    from apps.messaging.sending import statuses_pause
    from apps.messaging.services import recipients, statuses

    for phone_number_id, pairs in _lock_order(status_batches, numbers):
        number = numbers[phone_number_id]
        try:
            with _savepoint(isolated):
                updates = [item for _, item in pairs]
                outcomes = statuses.statuses_apply(number=number, updates=updates)
                recipients.statuses_user_ids_learn(number=number, updates=updates)
                statuses_pause(number=number, updates=updates)
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
    rest[:0] = business_app_apply_batches(numbers=numbers, batches=dict(_lock_order(business_app, numbers)),
                                          savepoint=_savepoint, isolated=isolated)
    for run, item in rest:
        try:
            with transaction.atomic():
                _handle(run, item)
        except Exception as exc:
            logger.exception("webhook event %s: %s failed", run.event.pk, item.path)
            run.errors.append(f"{item.path}: {type(exc).__name__}: {exc}")
            run.transient = run.transient and transient(exc)
    for run, _ in runs:
        _finish(run)


def _lock_order(batches: dict[str, list], numbers: dict[str, WhatsAppNumber]) -> list[tuple[str, list]]:
    """A drain's batches number by number in one order (the numbers' ids), whatever
    order its deliveries came in: two drains lock the rows of their numbers in the
    same order and never wait for each other in a circle (a deadlock)."""
    return sorted(batches.items(), key=lambda pair: numbers[pair[0]].pk)


def _read(event: WebhookEvent) -> Delivery | None:
    """The parts and items of a stored delivery, read by its provider's format
    (apps.providers.inbound_format); None once the event is marked as a body we cannot
    use (kept, rejected: retrying or replaying cannot make it better)."""
    try:
        return inbound_format(event.provider).read(bytes(event.body))
    except UnusableBody as exc:
        event.status, event.reason, event.error = WebhookEvent.Status.REJECTED, f"malformed body: {exc}", ""
    except Exception as exc:  # the parser's own bug: a dead letter, replayable once fixed
        logger.exception("webhook event %s could not be parsed", event.pk)
        event.status, event.reason = WebhookEvent.Status.DEAD, "the parser failed"
        event.error = f"{type(exc).__name__}: {exc}"[:10000]
    return None


def _savepoint(isolated: bool):
    return transaction.atomic() if isolated else contextlib.nullcontext()


def _finish(run: _Run) -> None:
    event = run.event
    event.organization_id, event.number = delivery_owner(parts=run.parts, numbers=run.numbers,
                                                         by_waba=run.by_waba, signer=run.signer)
    notes = list(run.notes)
    if run.unrouted:
        notes.append("unknown number: " + "; ".join(run.unrouted))
    notes.extend(run.refused)
    event.reason = "\n".join(notes)[:10000]
    event.error = "\n".join(run.errors)[:10000]
    if run.errors:
        event.status = WebhookEvent.Status.DEAD if event.attempts >= MAX_ATTEMPTS else WebhookEvent.Status.FAILED
        event.retry_soon = run.transient
    elif run.refused and not run.routed:
        event.status = WebhookEvent.Status.REJECTED  # never replayed
    elif run.unrouted and not run.routed:
        event.status = WebhookEvent.Status.UNROUTED
    else:
        event.status = WebhookEvent.Status.PROCESSED



def _handle(run: _Run, item: ev.Event) -> None:
    from apps.bot.services import bot_on_inbound_message
    from apps.conversations import services as conversation_services
    from apps.messaging.sending import statuses_pause
    from apps.messaging.services import inbound, recipients, statuses

    if isinstance(item, ev.Malformed):
        run.notes.append(f"{item.path}: {item.reason}")
        return
    if isinstance(item, ev.NumberEvent):
        number = run.number(item)
        if number is None:
            return
        if isinstance(item, ev.InboundMessage):
            received = inbound.message_receive(number=number, event=item)
            if received.created and received.message is not None:
                bot_on_inbound_message(message=received.message)
        elif isinstance(item, ev.StatusUpdate):
            outcome = statuses.status_apply(number=number, update=item)
            recipients.statuses_user_ids_learn(number=number, updates=[item])
            statuses_pause(number=number, updates=[item])
            if outcome == "pending":
                run.notes.append(f"{item.path}: status {item.status} waits for message {item.wamid}")
        elif isinstance(item, ev.BusinessMessage | ev.AddressBookChange):
            business_app_apply(number=number, items=[item])
        elif isinstance(item, ev.CallUpdate):
            from apps.messaging.services.calls import call_receive

            call_receive(number=number, update=item)
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
                                 event=_first_error_code(item.errors),
                                 value={"errors": item.errors}, entry_time=None)
        return
    if isinstance(item, ev.TemplateUpdate):
        numbers = run.waba_numbers(item)
        if numbers is None or not run.route(numbers[0] if numbers else None, item, f"WABA {item.waba_id}"):
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
        numbers = run.waba_numbers(item)
        if numbers is None:
            return
        number = _number_by_display(numbers, item.display_phone_number)
        organization_number = number or (numbers[0] if numbers else None)
        run.route(organization_number, item, f"WABA {item.waba_id}")
        created = _account_event_store(run, item, number=number, field=item.field, event=item.event,
                                       value=item.value, entry_time=item.entry_time,
                                       organization_id=organization_number.organization_id
                                       if organization_number else None)
        if created and number is not None and item.field == "phone_number_quality_update":
            _number_quality_update(number, item.value, item.entry_time)
        targets = [number] if number is not None else numbers
        if created and targets:
            from apps.messaging.account_health import account_notice_apply

            account_notice_apply(waba_id=item.waba_id, numbers=targets, field=item.field, value=item.value,
                                 key=created)


def _first_error_code(errors: list) -> str:
    first = errors[0] if errors else None
    return str(first.get("code", "")) if isinstance(first, dict) else ""


def _number_by_display(numbers: list[WhatsAppNumber], display: str) -> WhatsAppNumber | None:
    digits = re.sub(r"\D", "", display or "")
    if not digits:
        return numbers[0] if len(numbers) == 1 else None
    for number in numbers:
        if re.sub(r"\D", "", number.display_phone_number) == digits:
            return number
    return None


def _account_event_store(run: _Run, item: ev.Event, *, number, field: str, event: str, value: dict, entry_time,
                         organization_id=None) -> str:
    """Store an account notice once: Meta's redelivery and our replay find the same key.
    Returns the notice's key when it is new, else ""."""
    key = hashlib.sha256(
        json.dumps({"waba": item.waba_id, "field": field, "time": entry_time, "value": value}, sort_keys=True,
                   default=str).encode()
    ).hexdigest()
    if AccountEvent.objects.filter(waba_id=item.waba_id, field=field, payload__key=key).exists():
        return ""
    AccountEvent.objects.create(
        organization_id=organization_id if organization_id is not None else (number.organization_id if number else None),
        number=number,
        waba_id=item.waba_id,
        field=field[:64],
        event=event[:64],
        payload={"key": key, "time": entry_time, "value": value},
        webhook_event=run.event,
    )
    return key


def _number_quality_update(number: WhatsAppNumber, value: dict, entry_time) -> None:
    """Meta's phone_number_quality_update on the number: the messaging limit
    (`max_daily_conversations_per_business`, `current_limit` in older deliveries), a
    quality rating only where a quality field gives one, and the event (FLAGGED,
    UNFLAGGED, DOWNGRADE, UPGRADE, ONBOARDING, THROUGHPUT_UPGRADE...) with its time,
    kept apart: an event is not a rating. A late, older notice changes nothing."""
    from django.db.models import Q

    from apps.providers.meta.parser import parse_timestamp

    at = parse_timestamp(entry_time) or timezone.now()
    changes = {}
    limit = value.get("max_daily_conversations_per_business") or value.get("current_limit")
    if limit:
        changes["messaging_limit"] = str(limit)[:40]
    if value.get("quality_rating"):
        changes["quality_rating"] = str(value["quality_rating"])[:20]
    if value.get("event"):
        changes["quality_event"] = str(value["event"]).upper()[:40]
    if changes:
        WhatsAppNumber.objects.filter(Q(quality_event_at__isnull=True) | Q(quality_event_at__lte=at),
                                      pk=number.pk).update(**changes, quality_event_at=at)
