"""What each send task does (apps/messaging/tasks.py calls these): a number's batch,
a message's own send, the claims a dead worker may have left, the sweep, a read
receipt."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from ..models import MEDIA_TYPES, Direction, Message, Status
from . import claim, kick, outcome, ratelimit
from .alone import alone_send
from .batch import batch_send
from .pacing import MAX_INLINE_WAIT

logger = logging.getLogger(__name__)

SWEEP_AFTER = timedelta(minutes=1)


def number_batch_send(number_id: int, *, redelivered: bool = False) -> int:
    """Send a batch of the number's pending messages (queued by its kick); returns how
    many were claimed. `redelivered`: the task was delivered again (see
    `claims_check`). Safe to run twice: each message is claimed before its call."""
    if redelivered:
        claims_check(number_id)
    kick.kick_taken(number_id)
    key = kick.number_keys.get(number_id)
    if key is not None:
        # The number's slots are taken for most of the next second already (a
        # backlog): claiming now would mostly give the claims back. Look again when
        # a batch fits.
        ahead = ratelimit.taken_ahead(key)
        if ahead > 0.75 * MAX_INLINE_WAIT:
            kick.kick(number_id, countdown=ahead - 0.5 * MAX_INLINE_WAIT)
            return 0
    claimed_at = timezone.now()
    size = kick.batch_size(number_id)
    messages = claim.messages_claim(claimed_at=claimed_at, number_id=number_id, limit=size)
    if messages:
        batch_send(messages, claimed_at, full=len(messages) == size)
    return len(messages)


def message_send_out(message_id: int) -> str:
    """Send one pending outbound message, and (batching) a batch of its number's
    other waiting messages along with it; a media message goes on its own. Returns
    its outcome, or why it was not sent ("missing", "done", "in_flight",
    "interrupted"). Safe to run twice."""
    claimed_at = timezone.now()
    claimed = claim.messages_claim(claimed_at=claimed_at, ids=[message_id])
    first = claimed[0] if claimed else None
    if first is not None:
        number_id = first.number_id
    else:
        number_id = Message.objects.filter(pk=message_id).values_list("number_id", flat=True).first()
        if number_id is None:
            return "missing"
    kick.kick_taken(number_id)
    alone = first is None or first.type in MEDIA_TYPES
    batch = [] if alone else [first]
    limit = kick.batch_size(number_id, first.number.rate_limit_per_second if first is not None else None) - len(batch)
    others = claim.messages_claim(claimed_at=claimed_at, number_id=number_id, limit=limit, exclude=message_id)
    batch += others
    results = batch_send(batch, claimed_at, full=len(others) == limit) if batch else {}
    if first is not None and not alone:
        return results.get(message_id, "sent")
    if first is None:
        # Not claimable (sent, in flight, interrupted...): tell why, or claim it now
        # if its claim was given back meanwhile.
        claimed_at = timezone.now()
        first, why = _unclaimed(message_id, claimed_at)
        if first is None:
            return why
    return alone_send(first, claimed_at)


def _unclaimed(message_id: int, claimed_at) -> tuple[Message | None, str]:
    """A message its task could not claim: (None, why), or (the message, "")
    claimed at `claimed_at` when it is free now."""
    row = Message.objects.filter(pk=message_id).values_list(
        "direction", "wamid", "status", "send_started_at", "call_started_at", "type").first()
    if row is None or row[0] != Direction.OUTBOUND:
        return None, "missing"
    _direction, wamid, status, started, call_started, kind = row
    if wamid or status != Status.PENDING:
        return None, "done"
    if started is not None:
        # Another run holds the claim, or a worker died holding it.
        now = timezone.now()
        age = (now - started).total_seconds()
        if call_started is None:
            # Its call never started: once the claim has outlived its holder it is
            # given back, and sent as any other (never two calls: claim.py).
            expiry = claim.unstarted_expiry(kind)
            if age <= expiry:
                kick.message_queue(message_id, countdown=expiry - age + 1)
                return None, "in_flight"
            if not claim.claims_release([message_id], now):
                return _unclaimed_again(message_id)  # its call was recorded meanwhile
        else:
            # The call may have reached Meta: never sent again blindly. Once the
            # claim has expired, interrupted, until Meta's statuses tell (they echo
            # our id: services/statuses.py).
            if age > claim.claim_expiry():
                if outcome.message_fail(message_id, title=outcome.INTERRUPTED_TITLE, text=outcome.INTERRUPTED_TEXT,
                                        send_started_at=started, call_started_at__isnull=False):
                    return None, "interrupted"
                return _unclaimed_again(message_id)
            # Look again once the claim has expired: done by then, or interrupted.
            kick.message_queue(message_id, countdown=claim.claim_expiry() - age + 1)
            return None, "in_flight"
    claimed = claim.messages_claim(claimed_at=claimed_at, ids=[message_id])
    return (claimed[0], "") if claimed else (None, "in_flight")


def _unclaimed_again(message_id: int) -> tuple[None, str]:
    """A message whose row changed while its task looked at it: look again soon."""
    kick.message_queue(message_id, countdown=1)
    return None, "in_flight"


def claims_check(number_id: int) -> None:
    """A batch task delivered again: the worker that ran it may have died holding
    claims of the number. Each message claimed and not sent gets a task of its own,
    which settles it once its claim has expired (given back and sent when its call
    never started, else interrupted: `_unclaimed`) unless its wamid is stored by then
    (a live worker's batch)."""
    ids = list(
        Message.objects.filter(
            number_id=number_id, direction=Direction.OUTBOUND, status=Status.PENDING, wamid__isnull=True,
            send_started_at__isnull=False,
        ).values_list("pk", flat=True)[:1000]
    )
    for message_id in ids:
        kick.message_queue(message_id)


def pending_sweep() -> int:
    """Queue again the pending outbound messages that never started (their task was
    lost) and whose retry time, if any, has passed, and those whose claim outlived
    its holder (their worker died: their task gives back a claim whose call never
    started and sends the message, and marks one whose call started interrupted,
    never resending it blindly). Returns how many were queued."""
    now = timezone.now()
    ids = list(
        Message.objects.filter(
            direction=Direction.OUTBOUND, status=Status.PENDING, wamid__isnull=True, send_started_at__isnull=True,
            created_at__lt=now - SWEEP_AFTER,
        ).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=now - SWEEP_AFTER))
        .values_list("pk", flat=True)[:1000]
    )
    stale = now - timedelta(seconds=claim.claim_expiry())
    unstarted = now - timedelta(seconds=claim.UNSTARTED_EXPIRY)
    ids += list(
        Message.objects.filter(direction=Direction.OUTBOUND, status=Status.PENDING, wamid__isnull=True)
        .filter(Q(send_started_at__lt=stale) | Q(send_started_at__lt=unstarted, call_started_at__isnull=True))
        .values_list("pk", flat=True)[:1000]
    )
    for message_id in ids:
        kick.message_queue(message_id)
    return len(ids)


def read_receipt_send(number_id: int, wamid: str, *, typing: bool = False) -> None:
    """Tell Meta the customer's message `wamid` was read (and optionally show typing).
    Best effort: an error Meta answers is logged."""
    from apps.providers.meta.client import GraphAPIError, client_for
    from apps.whatsapp.models import WhatsAppNumber

    number = WhatsAppNumber.objects.filter(pk=number_id).first()
    if number is None:
        return
    try:
        client_for(number).mark_read(wamid, typing=typing)
    except GraphAPIError as error:
        logger.info("mark read of %s failed: %s", wamid, error)
