"""What each send task does (apps/messaging/tasks.py calls these): a number's batch,
a message's own send, the claims a dead worker may have left, the sweep, a read
receipt."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from ..models import MEDIA_TYPES, Direction, Message, Status
from . import claim, holders, kick, outcome, pause, ratelimit
from .batch import MARK_LEAD, batch_send, message_send
from .pacing import MAX_INLINE_WAIT

logger = logging.getLogger(__name__)

# A message waiting for its number's batch this long, on a number whose chain is dead,
# is swept; a message of its own task, once its time is this far past.
WAIT_GRACE = timedelta(seconds=2)
OWN_TASK_GRACE = timedelta(seconds=5)
# A claim this old whose holder is recorded and no longer beats is settled at once
# (holders.py); younger ones may not have their holder recorded yet.
HOLDER_GRACE = timedelta(seconds=1)


def number_batch_send(number_id: int, *, redelivered: bool = False) -> int:
    """Send a batch of the number's pending messages (queued by its kick); returns how
    many were claimed. `redelivered`: the task was delivered again (see
    `claims_check`). Safe to run twice: each message is claimed before its call."""
    if redelivered:
        claims_check(number_id)
    kick.kick_taken(number_id)
    key = kick.number_keys.get(number_id)
    ahead = None  # unknown: batch_send asks
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
    claimed = claim.messages_claim(claimed_at=claimed_at, number_id=number_id, limit=size)
    messages = pause.messages_hold(claimed, claimed_at)  # a paused number's wait
    more = len(claimed) == size and (messages is claimed or pause.set_aside(claimed))
    if messages:
        batch_send(messages, claimed_at, full=more,
                   free_now=None if ahead is None else ahead < MARK_LEAD)
    elif more:
        kick.kick_quietly(number_id)  # a scoped pause set these aside: the next claim reaches the others
    return len(messages)


def message_send_out(message_id: int) -> str:
    """Send one pending outbound message, and (batching) a batch of its number's
    other waiting messages along with it; a media message goes on its own after
    them (a batch of one: its upload comes before its slot). Returns
    its outcome, or why it was not sent ("missing", "done", "in_flight",
    "interrupted", "paused": its number's sending is paused, pause.py). Safe to run
    twice."""
    claimed_at = timezone.now()
    claimed = claim.messages_claim(claimed_at=claimed_at, ids=[message_id])
    first = claimed[0] if claimed else None
    if first is not None:
        number_id = first.number_id
        if first.number.sending_paused_at is not None:
            # The number's sending is paused: this message waits, unless it is the check.
            return message_send(first, claimed_at) if pause.messages_hold([first], claimed_at) else "paused"
    else:
        number_id = Message.objects.filter(pk=message_id).values_list("number_id", flat=True).first()
        if number_id is None:
            return "missing"
    kick.kick_taken(number_id)
    on_its_own = first is None or first.type in MEDIA_TYPES
    batch = [] if on_its_own else [first]
    limit = kick.batch_size(number_id, first.number.rate_limit_per_second if first is not None else None) - len(batch)
    others = claim.messages_claim(claimed_at=claimed_at, number_id=number_id, limit=limit, exclude=message_id)
    if others and first is None:
        others = pause.messages_hold(others, claimed_at)
    batch += others
    results = batch_send(batch, claimed_at, full=len(others) == limit) if batch else {}
    if first is not None and not on_its_own:
        return results.get(message_id, "sent")
    if first is None:
        # Not claimable (sent, in flight, interrupted...): tell why, or claim it now
        # if its claim was given back meanwhile.
        claimed_at = timezone.now()
        first, why = _unclaimed(message_id, claimed_at)
        if first is None:
            return why
        if not pause.messages_hold([first], claimed_at):
            return "paused"
    return message_send(first, claimed_at)


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
        # Its holder's process died (holders.py): no expiry to wait for.
        gone = age > HOLDER_GRACE.total_seconds() and bool(holders.holders_gone([started]))
        if call_started is None:
            # Its call never started: once the claim has outlived its holder it is
            # given back, and sent as any other (never two calls: claim.py).
            expiry = claim.unstarted_expiry(kind)
            if gone:
                if not claim.claims_release_gone([message_id], started):
                    return _unclaimed_again(message_id)
            elif age <= expiry:
                kick.message_queue(message_id, countdown=expiry - age + 1)
                return None, "in_flight"
            elif not claim.claims_release([message_id], now):
                return _unclaimed_again(message_id)  # its call was recorded meanwhile
        else:
            # The call may have reached Meta: never sent again blindly. Once the
            # claim has expired or its holder died, interrupted, until Meta's
            # statuses tell (they echo our id: services/statuses.py).
            if age > claim.claim_expiry() or gone:
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
    """Every pending outbound message has a live task: the sweep, run every
    SEND_SWEEP_SECONDS (beat) on the send workers' own queue, so only while a send
    worker runs (none piles up tasks behind a stopped one).

    - A number whose messages wait for a batch (older than WAIT_GRACE) and whose chain
      of batch tasks is dead (kick.chains_stalled: a worker died holding it, or the
      kick was lost between commit and queue) gets its batch task again.
    - A message of its own task (media, a retry, a pair's wait) overdue by
      OWN_TASK_GRACE, and a claim that outlived its holder (its worker died: its task
      gives back a claim whose call never started and sends the message, and marks one
      whose call started interrupted, never resending it blindly), get their task
      again, at most once per kick.SWEPT_TTL each.

    - Claims whose holder died (holders.py: its process stopped beating) are settled
      first, without waiting for their expiry: given back when their call never
      started (the steps above then queue them), interrupted when it did.

    Returns how many tasks it queued."""
    now = timezone.now()
    waiting = Message.objects.filter(direction=Direction.OUTBOUND, status=Status.PENDING, wamid__isnull=True)
    claims_of_the_dead_settle(waiting, now)
    # A paused number's messages wait for its check (pause.py), not for the sweep; under
    # a scoped pause (marketing templates only) the others go as on any number, and the
    # batch they get holds what the pause covers (pause.messages_hold).
    unclaimed = waiting.filter(send_started_at__isnull=True).filter(
        Q(number__sending_paused_at__isnull=True) | ~Q(number__sending_pause_scope=""))
    numbers = list(
        unclaimed.filter(next_attempt_at__isnull=True, created_at__lt=now - WAIT_GRACE)
        .exclude(type__in=MEDIA_TYPES).order_by().values_list("number_id", flat=True).distinct()[:1000]
    )
    stalled = kick.chains_stalled(numbers)
    for number_id in stalled:
        logger.warning("number %s: its messages wait and no send task runs for it (a worker died?): "
                       "its batch task is queued again", number_id)
        kick.kick(number_id, force=True)
    ids = list(
        unclaimed.filter(
            Q(next_attempt_at__lt=now - OWN_TASK_GRACE)
            | Q(next_attempt_at__isnull=True, type__in=MEDIA_TYPES, created_at__lt=now - OWN_TASK_GRACE)
        ).values_list("pk", flat=True)[:1000]
    )
    # Claims outliving their holder: older than any send could last, or older than
    # UNSTARTED_EXPIRY with no call recorded (their task gives such a claim back and
    # sends the message; one whose call started is marked interrupted, never resent).
    stale = now - timedelta(seconds=claim.claim_expiry())
    unstarted = now - timedelta(seconds=claim.UNSTARTED_EXPIRY)
    ids += list(waiting.filter(Q(send_started_at__lt=stale)
                               | Q(send_started_at__lt=unstarted, call_started_at__isnull=True))
                .values_list("pk", flat=True)[:1000])
    return len(stalled) + len(kick.messages_requeue(ids))


def claims_of_the_dead_settle(waiting, now) -> None:
    """Settle now the claims whose holder died (holders.py), rather than at their
    expiry: those whose call never started are given back (the sweep's next steps
    queue them again), those whose call started are marked interrupted (until Meta's
    statuses tell)."""
    held = list(waiting.filter(send_started_at__lt=now - HOLDER_GRACE)
                .values_list("pk", "send_started_at", "call_started_at")[:1000])
    for started in sorted(holders.holders_gone(sorted({at for _, at, _ in held}))):
        of_claim = [(pk, call) for pk, at, call in held if at == started]
        given_back = claim.claims_release_gone([pk for pk, call in of_claim if call is None], started)
        interrupted = [pk for pk, call in of_claim if call is not None and outcome.message_fail(
            pk, title=outcome.INTERRUPTED_TITLE, text=outcome.INTERRUPTED_TEXT, send_started_at=started,
            call_started_at__isnull=False)]
        logger.warning("the process holding %d claims taken at %s died: %d given back (they go out again), "
                       "%d whose call had started marked interrupted", len(of_claim), started.isoformat(),
                       len(given_back), len(interrupted))


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
