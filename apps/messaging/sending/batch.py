"""The batch send: claimed messages of one number, their files uploaded first where
Meta needs them, their slots in one reservation, each call from the process's sender
loop at its slot (apps.providers.meta.transport), the answers stored together and each
error settled on its own message. A message sent on its own (media, its own retry, a
paused number's check) is a batch of one: the same path (`message_send`)."""

from __future__ import annotations

import logging
import math
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ..models import MEDIA_TYPES, Message
from . import claim, kick, outcome, ratelimit
from .pacing import LATE_SLOT, MAX_INLINE_WAIT, db_connection_release
from .payload import media_upload_if_needed, meta_payload

logger = logging.getLogger(__name__)


def send_concurrency() -> int:
    """The calls to Meta a worker process has in flight at most (SEND_CONCURRENCY,
    its sender loop: apps.providers.meta.transport), so at most send_concurrency() / round
    trip sends per second."""
    return max(1, settings.SEND_CONCURRENCY)


def message_send(message: Message, claimed_at) -> str:
    """Send one claimed message on its own: a batch of one. Returns its outcome (see
    `batch_send`)."""
    return batch_send([message], claimed_at, full=False).get(message.pk, "sent")


def batch_send(messages: list[Message], claimed_at, *, full: bool, free_now: bool | None = None) -> dict[int, str]:
    """Send claimed messages of one number: the files of media messages uploaded to
    Meta first where needed, their slots in one reservation, each call from the
    process's sender loop at its slot, the answers stored together.
    `full`: the claim may have left more waiting, so the next batch is queued at once.
    `free_now`: the number's slots were found free just before the claim, so the
    first slots are now and the first wave's calls are recorded before the
    reservation (see WAVE_SECONDS); otherwise every wave is recorded just before it.
    None: the number's bucket is asked here (one Redis round trip).
    Returns each message's outcome ("sent", "throttled", "retry", "interrupted", "failed",
    "released": its claim was given back before its call, another send has it)."""
    from apps.providers.meta.client import client_for, sender
    from apps.providers.meta.transport import LATE

    results: dict[int, str] = {}
    # Before any call is recorded or slot reserved: nothing slow (an upload) may come
    # between a slot and its request.
    files: dict[int, object] = {}
    messages = _files_upload(messages, files, results)
    if not messages:
        return results
    number = messages[0].number
    kick.number_keys[number.pk] = ratelimit.number_key(number)
    kick.number_rates[number.pk] = number.rate_limit_per_second
    size = kick.batch_size(number.pk)
    if free_now is None:
        try:
            free_now = ratelimit.taken_ahead(kick.number_keys[number.pk]) < MARK_LEAD
        except Exception:  # noqa: BLE001 - Redis: the reservation below fails too and gives the claims back
            free_now = False
    client = client_for(number)
    loop = sender()
    db_connection_release()
    rounds, by_number, by_pair = [], [], []
    waiting, first = messages, True
    recorded: set[int] = set()  # the messages whose calls are recorded (claim.calls_start)
    deadline = time.monotonic() + claim.claim_expiry()
    for _round in range(5):
        if first and free_now:
            try:
                waiting = _head_record(number, waiting, claimed_at, recorded, results)
            except Exception:  # the database: no call is made, the claims are given back
                logger.exception("could not record the calls of %d messages: not made", len(waiting))
                by_number, waiting = [(0.0, m) for m in waiting], []
            if not waiting:
                break
        # Slots for the messages still waiting (all of them, then those that
        # missed their slot), one reservation, once the loop starts its calls on time.
        loop.on_time(MAX_INLINE_WAIT)
        try:
            slots = ratelimit.send_reserve_batch(
                number, [m.conversation.contact.key for m in waiting], max_wait=MAX_INLINE_WAIT
            )
        except Exception:  # Redis: no slot, so no call; the claims and their records go back now
            logger.exception("could not reserve the slots of %d messages: not made", len(waiting))
            by_number += [(0.0, message) for message in waiting]
            waiting = []
            break
        # The delays count from Redis's time at the reservation, not from now: this
        # thread may have got the answer late (ratelimit.RedisClock).
        at = getattr(slots, "at", None)
        began = time.monotonic() if at is None else ratelimit.redis_clock.monotonic(at)
        go = []
        for message, (granted, delay, refused_by_pair) in zip(waiting, slots):
            if granted:
                go.append((began + delay, message))
            else:
                (by_pair if refused_by_pair else by_number).append((delay, message))
        if first and full and not by_number:
            kick.kick_quietly(number.pk)  # more may be waiting: the next batch is claimed now
        if first and by_number:
            # The number's slots are taken for the next second: give these back and
            # queue a batch for when a whole batch fits.
            countdown = min(d for d, _ in by_number) + size / number.rate_limit_per_second
            _give_back([m for _, m in by_number], claimed_at, number.pk, countdown)
            results.update({m.pk: "throttled" for _, m in by_number})
            by_number = []
        first = False
        # Each call starts at its slot in the sender loop, recorded just before
        # (`_waves_schedule`). One the loop cannot start within LATE_SLOT of its slot
        # is not made (sent late, it could crowd the number's next slots into one
        # second): it takes a new slot with the others that missed theirs, as soon
        # as the loop has started or passed over all.
        scheduled, unmade = _waves_schedule(loop, client, go, claimed_at, results, recorded)
        rounds.extend(scheduled)
        decided = all(batch.wait_decided(max(0.0, deadline - time.monotonic())) for _made, batch in scheduled)
        waiting = [made[i] for made, batch in scheduled for i in batch.late()]  # never made: final
        _pairs_refund(number, waiting)
        if waiting and decided:
            # Found late, so never written: no longer recorded as started (a worker
            # dying now gives them back, not "interrupted"); their next wave records them.
            try:
                claim.calls_unstart([m.pk for m in waiting], claimed_at)
                recorded.difference_update(m.pk for m in waiting)
            except Exception:  # the database: they stay recorded (interrupted should the worker die)
                logger.exception("could not take back the records of %d calls found late", len(waiting))
        if unmade:  # their calls could not be recorded (the database): given back, not made
            by_number += [(0.0, message) for message in unmade]
            break
        if not decided or not waiting:
            break  # (not decided: the loop is stuck; what it did not start counts as unanswered below)
    by_number += [(0.0, message) for message in waiting]
    # Settled already: the calls still late in the last round, and those a later
    # round found no slot for (each message's last round decides it).
    given_back = {message.pk for _, message in by_number + by_pair}

    # The answers: the wamids are stored first (the calls were made: nothing that
    # fails after this point may lose them), then the errors and the messages that
    # got no slot are settled, each on its own.
    sent, failed, late = [], [], []
    last_round: dict[int, tuple] = {}  # each message's result in the last round that scheduled its call
    for sent_messages, batch in rounds:
        last_round.update((message.pk, (message, result))
                          for message, result in zip(sent_messages, _results(batch, deadline)))
    for message, result in last_round.values():
        if result is LATE:
            if message.pk not in given_back:  # found late after the loop was given up on
                by_number.append((0.0, message))
                late.append(message)
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
            sent.append((message, wamid, files.get(message.pk), outcome.answer_wa_id(result)))
        else:
            failed.append((message, None))
    _pairs_refund(number, late)
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
        _give_back([m for _, m in by_number], claimed_at, number.pk,
                   min(d for d, _ in by_number) + size / number.rate_limit_per_second)
    return results


# The calls of a batch are recorded as started (claim.calls_start) in waves: those
# whose slots fall within WAVE_SECONDS of the wave's first, MARK_LEAD before it. When
# the number's slots are free (the batch's first slot is now), the first wave's are
# recorded before the slots are reserved (as many as the number's slots of
# WAVE_SECONDS), so that no round trip to the database comes between a slot and its
# call; a batch whose slots come later (a number with a backlog: its slots up to
# MAX_INLINE_WAIT ahead) records none before its first wave is due. A worker that
# dies leaves at most the calls of about one wave per number recorded but not made
# (shown interrupted: nobody can tell them from calls made); the rest of its claims
# are given back and sent. A call the loop found late was never written: its record
# is taken back (claim.calls_unstart). One UPDATE per wave.
WAVE_SECONDS = 0.05
MARK_LEAD = 0.05


def _files_upload(messages: list[Message], files: dict, results: dict) -> list[Message]:
    """Upload the files of the media messages that Meta needs (payload.
    media_upload_if_needed), keeping each one's Media row in `files`; a message whose
    upload failed is settled as its call's failure would be (a transient error of
    Meta's is retried with backoff). Returns the messages still to send."""
    from apps.media.services import MediaUnavailable
    from apps.providers.meta.client import GraphAPIError

    ready = []
    for message in messages:
        if message.type not in MEDIA_TYPES:
            ready.append(message)
            continue
        try:
            files[message.pk] = media_upload_if_needed(message)
        except (GraphAPIError, MediaUnavailable) as error:
            results[message.pk] = outcome.failure_settle(message, error)
            continue
        except Exception as exc:  # a bug or a storage error: its claim is not left dangling
            logger.exception("message %s: could not prepare its file", message.pk)
            results[message.pk] = outcome.failure_settle(message, exc)
            continue
        ready.append(message)
    return ready


def _head_record(number, messages: list[Message], claimed_at, recorded: set[int], results: dict) -> list[Message]:
    """Record the calls of the first messages of a batch, those its first wave will
    likely hold; returns the batch without the messages whose claim was given back
    meanwhile ("released": another send holds them)."""
    head = messages[:settings.SEND_NUMBER_BURST + math.ceil(number.rate_limit_per_second * WAVE_SECONDS)]
    try:
        held = claim.calls_start([m.pk for m in head], claimed_at)
    finally:
        db_connection_release()
    recorded.update(held)
    released = {m.pk for m in head if m.pk not in held}
    results.update({pk: "released" for pk in released})
    return [m for m in messages if m.pk not in released]


def _waves_schedule(loop, client, go: list[tuple[float, Message]], claimed_at, results: dict,
                    recorded: set[int]) -> tuple[list[tuple], list[Message]]:
    """Record the calls of `go` ((slot time, message), time.monotonic()) not
    recorded yet and schedule them, wave by wave, sleeping until a wave to record is
    due. Returns (messages, the sender loop's batch) per wave, and the messages whose
    calls could not be recorded (an error of the database: not made, nor those after
    them). A message whose claim was given back meanwhile is not sent ("released")."""
    scheduled = []
    pending = sorted(go, key=lambda pair: pair[0])
    while pending:
        start = pending[0][0]
        wave = [pair for pair in pending if pair[0] < start + WAVE_SECONDS]
        fresh = [m.pk for _at, m in wave if m.pk not in recorded]
        if fresh:
            ahead = start - MARK_LEAD - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            try:
                held = claim.calls_start(fresh, claimed_at)
            except Exception:
                logger.exception("could not record the calls of %d messages: not made", len(pending))
                return scheduled, [m for _at, m in pending]
            finally:
                db_connection_release()
            recorded.update(held)
            results.update({pk: "released" for pk in fresh if pk not in held})
        pending = pending[len(wave):]
        made = [(at, m) for at, m in wave if m.pk in recorded]
        batch = loop.schedule([(at, client.send_message_call(meta_payload(m))) for at, m in made],
                              late_after=LATE_SLOT)
        scheduled.append(([m for _at, m in made], batch))
    return scheduled, []


def _pairs_refund(number, messages: list[Message]) -> None:
    """The pair slots of calls found late (never made) go back to their customers
    (ratelimit.pairs_refund); Redis failing here only leaves them counted."""
    if not messages:
        return
    try:
        ratelimit.pairs_refund(number, [m.conversation.contact.key for m in messages])
    except Exception:  # noqa: BLE001
        logger.warning("could not give back the pair slots of %d calls found late", len(messages), exc_info=True)


def _give_back(messages: list[Message], claimed_at, number_id: int, countdown: float) -> None:
    """Give back claims that got no slot: the number's next batch takes them, after
    `countdown`; a media message, which the number's batches never claim, gets its own
    task then."""
    own = [m.pk for m in messages if m.type in MEDIA_TYPES]
    ids = [m.pk for m in messages if m.type not in MEDIA_TYPES]
    try:
        if ids:
            claim.messages_unclaim(ids, claimed_at)
            kick.kick(number_id, countdown=countdown)
        if own:
            claim.messages_unclaim(own, claimed_at, next_attempt_at=timezone.now() + timedelta(seconds=countdown))
            for message_id in own:
                kick.message_queue(message_id, countdown=countdown)
    except Exception:  # the sweeper finds them
        logger.exception("could not give back the claims of %s", ids + own)


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
