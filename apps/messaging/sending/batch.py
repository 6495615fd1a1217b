"""The batch send: claimed messages of one number, their slots in one reservation,
each call from the process's sender loop at its slot (apps.providers.meta.transport),
the answers stored together and each error settled on its own message."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ..models import Message
from . import claim, kick, outcome, ratelimit
from .pacing import LATE_SLOT, MAX_INLINE_WAIT, db_connection_release
from .payload import meta_payload

logger = logging.getLogger(__name__)


def send_concurrency() -> int:
    """The calls to Meta a worker process has in flight at most (SEND_CONCURRENCY,
    its sender loop: apps.providers.meta.transport), so at most send_concurrency() / round
    trip sends per second."""
    return max(1, settings.SEND_CONCURRENCY)


def batch_send(messages: list[Message], claimed_at, *, full: bool) -> dict[int, str]:
    """Send claimed messages of one number: their slots in one reservation, each
    call from the process's sender loop at its slot, the answers stored together.
    `full`: the claim may have left more waiting, so the next batch is queued at once.
    Returns each message's outcome ("sent", "throttled", "retry", "interrupted", "failed")."""
    from apps.providers.meta.client import client_for, sender
    from apps.providers.meta.transport import LATE

    results: dict[int, str] = {}
    number = messages[0].number
    kick.number_keys[number.pk] = ratelimit.number_key(number)
    kick.number_rates[number.pk] = number.rate_limit_per_second
    size = kick.batch_size(number.pk)
    client = client_for(number)
    loop = sender()
    db_connection_release()
    rounds, by_number, by_pair = [], [], []
    waiting, first = messages, True
    deadline = time.monotonic() + claim.claim_expiry()
    for _round in range(5):
        # Slots for the messages still waiting (all of them, then those that
        # missed their slot), one reservation.
        slots = ratelimit.send_reserve_batch(
            number, [m.conversation.contact.key for m in waiting], max_wait=MAX_INLINE_WAIT
        )
        began = time.monotonic()
        go = []
        for message, (granted, delay, refused_by_pair) in zip(waiting, slots):
            if granted:
                go.append((began + delay, message))
            else:
                (by_pair if refused_by_pair else by_number).append((delay, message))
        if first and full and not by_number:
            kick.kick_quietly(number.pk)  # more may be waiting: the next batch is claimed now
        # Each call starts at its slot in the sender loop. One the loop cannot start
        # within LATE_SLOT of its slot is not made (sent late, it could crowd the
        # number's next slots into one second): it takes a new slot with the others
        # that missed theirs, as soon as the loop has started or passed over all.
        batch = loop.schedule([(at, client.send_message_call(meta_payload(m))) for at, m in go],
                              late_after=LATE_SLOT)
        rounds.append(([m for _at, m in go], batch))
        if first and by_number:
            # The number's slots are taken for the next second: give these back and
            # queue a batch for when a whole batch fits.
            countdown = min(d for d, _ in by_number) + size / number.rate_limit_per_second
            _give_back([m.pk for _, m in by_number], claimed_at, number.pk, countdown)
            results.update({m.pk: "throttled" for _, m in by_number})
            by_number = []
        first = False
        decided = batch.wait_decided(max(0.0, deadline - time.monotonic()))
        waiting = [go[i][1] for i in batch.late()]  # never made: final
        if not decided or not waiting:
            break  # (not decided: the loop is stuck; what it did not start counts as unanswered below)
    by_number += [(0.0, message) for message in waiting]
    given_back = {message.pk for message in waiting}

    # The answers: the wamids are stored first (the calls were made: nothing that
    # fails after this point may lose them), then the errors and the messages that
    # got no slot are settled, each on its own.
    sent, failed = [], []
    for sent_messages, batch in rounds:
        for message, result in zip(sent_messages, _results(batch, deadline)):
            if result is LATE:
                if message.pk not in given_back:  # found late after the loop was given up on
                    by_number.append((0.0, message))
                continue
            if not isinstance(result, Exception):
                try:
                    result = client.answer(result)
                except Exception as exc:
                    result = exc
            if isinstance(result, Exception):
                failed.append((message, result))
                continue
            wamid = outcome.answer_wamid(result)
            if wamid:
                sent.append((message, wamid, None, outcome.answer_wa_id(result)))  # no media in a batch
            else:
                failed.append((message, None))
    results.update(outcome.answers_store(sent))
    for message, error in failed:
        try:
            results[message.pk] = outcome.failure_settle(message, error)
        except Exception:  # its claim expires: the sweeper settles it
            logger.exception("message %s: could not settle its error", message.pk)
    for delay, message in by_pair:
        # This customer had messages just before: this one alone, when its pair allows.
        try:
            claim.messages_unclaim([message.pk], claimed_at, next_attempt_at=timezone.now() + timedelta(seconds=delay))
            kick.message_queue(message.pk, countdown=delay)
        except Exception:  # the sweeper finds it
            logger.exception("message %s: could not queue it for its pair's slot", message.pk)
        results[message.pk] = "throttled"
    if by_number:
        results.update({m.pk: "throttled" for _, m in by_number})
        # When the number's slots free up for a whole batch.
        _give_back([m.pk for _, m in by_number], claimed_at, number.pk,
                   min(d for d, _ in by_number) + size / number.rate_limit_per_second)
    return results


def _give_back(ids: list[int], claimed_at, number_id: int, countdown: float) -> None:
    try:
        claim.messages_unclaim(ids, claimed_at)
        kick.kick(number_id, countdown=countdown)
    except Exception:  # the sweeper finds them
        logger.exception("could not give back the claims of %s", ids)


def _results(batch, deadline: float) -> list:
    """The batch's results once all are in, or at `deadline` (time.monotonic()): a
    call with none by then may yet reach Meta, so it counts as a read timeout."""
    from apps.providers.meta.client import GraphAPIError

    if not batch.wait(max(0.0, deadline - time.monotonic())):
        logger.error("the sender loop gave no result for some calls within the claim's time")
    return [
        GraphAPIError("No answer from the sender loop in time", retryable=True, read_timeout=True)
        if result is None else result
        for result in batch.results
    ]
