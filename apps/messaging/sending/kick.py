"""Queueing the send tasks: the number's kick, a message's own task, batch sizes.

One send task sends up to BATCH_SIZE messages of one number: Celery's own cost per
task (fetching, the late-ack bookkeeping, the ack), the claim, the slot reservation
and the stored answers are shared by the batch. Each message keeps its own attempt
(claimed before its call, wamid stored after); errors are settled per message and a
retry is a task of that message alone.

message_send does not queue a task per message: it sets the number's "kick" key in
Redis and queues a task only when the key was not set already. A task deletes the
key *before* it claims, so a message whose commit found the key set is committed
before that task's claim and is claimed by it (or, when the batch is full, by the
task it queues next). The sweeper still finds any message no task took.

A number allowed more than BATCH_RATE sends per second takes larger batches: as
many as its slots of BATCH_SECONDS, at most MAX_BATCH_SIZE (at 1,000/s, 128): a
batch's fixed costs (Celery's handling of the task, the claim, the reservation, the
stored answers) are a large share of a send's CPU at such rates (docs/benchmarks.md).

The tasks are queued by their registered names (apps.core.tasks.dispatch), so that
this package never imports the tasks module that calls it.
"""

from __future__ import annotations

import logging

from django.db import transaction

from apps.core.tasks import dispatch

from ..models import MEDIA_TYPES, Message
from . import ratelimit

logger = logging.getLogger(__name__)

SEND_MESSAGE = "messaging.send_message"
SEND_PENDING = "messaging.send_pending"

BATCH_SIZE = 16
BATCH_RATE = 250
BATCH_SECONDS = 0.128
MAX_BATCH_SIZE = 128
KICK_PREFIX = "send:kick:"
KICK_TTL = 10.0

# Number id -> its rate-limit bucket key, learnt from the numbers this process sent for.
number_keys: dict[int, str] = {}
# Number id -> its sends per second, learnt likewise (the size of its next batches).
number_rates: dict[int, float] = {}


def send_enqueue(message: Message) -> None:
    """On commit, make sure a send task picks `message` up (message_send's enqueue)."""
    message_id, number_id, kind = message.pk, message.number_id, message.type
    # Robust: the message is committed whatever happens here. Should the broker or
    # Redis be down, the error is logged, the caller still gets its message (an error
    # would invite sending it twice), and sweep_pending queues it later.
    transaction.on_commit(lambda: kick(number_id, message_id=message_id, batchable=kind not in MEDIA_TYPES),
                          robust=True)


def send_kick(message: Message) -> None:
    """`send_enqueue` for a message committed already (bench, tools)."""
    kick(message.number_id, message_id=message.pk, batchable=message.type not in MEDIA_TYPES)


def kick(number_id: int, *, message_id: int | None = None, batchable: bool = True, countdown: float = 0.0) -> None:
    """Queue a send task for the number's pending messages unless one is queued and
    has not started yet (see above): the number's batch task (`send_pending`). A
    message that cannot go in a batch (media) gets a task of its own.

    (A kick used to queue a task of the kicked message, which took the number's
    others along. A burst of messages then queued a task each time the number's
    task started, for messages that earlier batches had mostly claimed already:
    dozens of tasks per number in the burst's first second, each claiming, and the
    number's next batch waited behind them for up to half a second.)"""
    if batchable:
        ttl_ms = int((countdown + KICK_TTL) * 1000)
        try:
            if not ratelimit.client().set(KICK_PREFIX + str(number_id), 1, nx=True, px=ttl_ms):
                return
        except Exception:  # cannot tell whether a task waits: queue one (an extra one is harmless)
            logger.warning("send kick of number %s unavailable", number_id, exc_info=True)
        dispatch(SEND_PENDING, number_id, countdown=countdown or None)
    elif message_id is None:
        dispatch(SEND_PENDING, number_id, countdown=countdown or None)
    else:
        message_queue(message_id, countdown=countdown or None)


def kick_quietly(number_id: int) -> None:
    """`kick`, its failure logged: a batch whose calls are going out must not be
    stopped by the broker (the sweeper finds what no task took)."""
    try:
        kick(number_id)
    except Exception:
        logger.exception("could not queue the next batch of number %s", number_id)


def kick_taken(number_id: int) -> None:
    """The number's batch task has started: the next kick queues a new one."""
    ratelimit.client().delete(KICK_PREFIX + str(number_id))


def message_queue(message_id: int, *, countdown: float | None = None) -> None:
    """Queue the task of this message alone (a retry, a media message, a look later)."""
    dispatch(SEND_MESSAGE, message_id, countdown=countdown)


def batch_size(number_id: int, rate: float | None = None) -> int:
    """How many messages a task of number `number_id` claims at most (see above)."""
    rate = number_rates.get(number_id) if rate is None else rate
    if not rate or rate <= BATCH_RATE:
        return BATCH_SIZE
    return max(BATCH_SIZE, min(MAX_BATCH_SIZE, int(rate * BATCH_SECONDS)))
