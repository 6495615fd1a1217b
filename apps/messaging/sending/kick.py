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

A number's chain of batch tasks can die with a worker (kill -9: its queued and
running tasks are held by the broker until its visibility timeout, hours). Each batch
task's start marks the chain alive for CHAIN_ALIVE seconds (`kick_taken`), and a
kicked task is expected within CHAIN_GRACE of its time (its kick key lives KICK_TTL
past it); `chains_stalled` names the numbers with neither, and the sweep
(run.pending_sweep, every few seconds on the send workers' own queue) starts their
chain again (`kick(..., force=True)`).

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
ALIVE_PREFIX = "send:alive:"
CHAIN_ALIVE = 3.0
CHAIN_GRACE = 3.0
SWEPT_PREFIX = "send:swept:"
# The sweep queues a message's own task again at most this often (a task held by a
# dead worker; running it twice is safe, piling copies up is not).
SWEPT_TTL = 30.0

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


def kick(number_id: int, *, message_id: int | None = None, batchable: bool = True, countdown: float = 0.0,
         force: bool = False) -> None:
    """Queue a send task for the number's pending messages unless one is queued and
    has not started yet (see above): the number's batch task (`send_pending`). A
    message that cannot go in a batch (media) gets a task of its own.

    (A kick used to queue a task of the kicked message, which took the number's
    others along. A burst of messages then queued a task each time the number's
    task started, for messages that earlier batches had mostly claimed already:
    dozens of tasks per number in the burst's first second, each claiming, and the
    number's next batch waited behind them for up to half a second.)

    `force`: queue the batch task even if the key says one is queued (the sweep,
    for a chain that died with its worker)."""
    if batchable:
        ttl_ms = int((countdown + KICK_TTL) * 1000)
        try:
            if not ratelimit.client().set(KICK_PREFIX + str(number_id), 1, nx=not force, px=ttl_ms):
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
    """The number's batch task has started: the next kick queues a new one, and its
    chain is alive for CHAIN_ALIVE seconds (one round trip)."""
    pipe = ratelimit.client().pipeline(transaction=False)
    pipe.delete(KICK_PREFIX + str(number_id))
    pipe.set(ALIVE_PREFIX + str(number_id), 1, px=int(CHAIN_ALIVE * 1000))
    pipe.execute()


# KEYS: per number, its kick key then its alive key. ARGV: the kick key's time to live
# below which its task is overdue (ms). Returns the 1-based positions of the numbers
# whose chain is dead: not alive, and no kick whose task is due within the grace.
_LUA_STALLED = """
local out = {}
local overdue = tonumber(ARGV[1])
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 and redis.call('PTTL', KEYS[i]) < overdue then
    out[#out + 1] = (i + 1) / 2
  end
end
return out
"""
_stalled_script = None


def chains_stalled(number_ids: list[int]) -> list[int]:
    """Of these numbers (each with messages waiting for a batch), those whose chain of
    batch tasks is dead: none started within CHAIN_ALIVE seconds, and none is kicked
    whose time came less than CHAIN_GRACE ago (its key lives KICK_TTL past its time,
    so PTTL < KICK_TTL - CHAIN_GRACE means overdue). One Redis call."""
    global _stalled_script
    if not number_ids:
        return []
    if _stalled_script is None:
        _stalled_script = ratelimit.client().register_script(_LUA_STALLED)
    keys = []
    for number_id in number_ids:
        keys += [KICK_PREFIX + str(number_id), ALIVE_PREFIX + str(number_id)]
    positions = _stalled_script(keys=keys, args=[int((KICK_TTL - CHAIN_GRACE) * 1000)])
    return [number_ids[int(position) - 1] for position in positions]


def messages_requeue(message_ids: list[int]) -> list[int]:
    """Queue the own task of each of these messages, unless the sweep queued it
    within SWEPT_TTL (one Redis round trip): a task held by a dead worker is replaced,
    and no copies pile up while none runs. Returns the ids queued."""
    if not message_ids:
        return []
    pipe = ratelimit.client().pipeline(transaction=False)
    for message_id in message_ids:
        pipe.set(SWEPT_PREFIX + str(message_id), 1, nx=True, px=int(SWEPT_TTL * 1000))
    fresh = [message_id for message_id, new in zip(message_ids, pipe.execute()) if new]
    for message_id in fresh:
        message_queue(message_id)
    return fresh


def message_queue(message_id: int, *, countdown: float | None = None) -> None:
    """Queue the task of this message alone (a retry, a media message, a look later)."""
    dispatch(SEND_MESSAGE, message_id, countdown=countdown)


def batch_size(number_id: int, rate: float | None = None) -> int:
    """How many messages a task of number `number_id` claims at most (see above)."""
    rate = number_rates.get(number_id) if rate is None else rate
    if not rate or rate <= BATCH_RATE:
        return BATCH_SIZE
    return max(BATCH_SIZE, min(MAX_BATCH_SIZE, int(rate * BATCH_SECONDS)))
