"""publish(): the one way a live event leaves the server.

Called from services only. The event is sent after the current transaction
commits (`transaction.on_commit`), so a browser never hears of a row it cannot read
yet, and a rolled-back change is never announced. Code that commits many events at
once wraps its transaction in `gathered()`, and they leave in one delivery.

Between the commit and the hand-over to Redis the events are only in this process:
a publish that fails moves the replay epoch (replay.mark_lost), and a process killed
in between is noticed by publishers.py, which moves it too. Either way no page stays
silently behind: reconnecting pages are reset, connected ones told to reload.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterable
from contextlib import contextmanager

from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from . import publishers, replay

logger = logging.getLogger(__name__)

# Tests attach a list here to see exactly which events a use-case emitted.
_listeners: list = []
_local = threading.local()


def removed_stub(conversation_id: int) -> dict:
    """The data of a conversation.updated for those who can no longer see the
    conversation (after a reassignment; and what their catch-up replays of it): the
    client drops the row."""
    return {"id": conversation_id, "removed": True}


# channels-redis's group_send costs four Redis round trips per group (expire the
# members, read them, expire the channels' old messages, the send script).
# A missing extension point: channels-redis 4.3.0 (pinned in requirements.txt) has no
# send of many messages to many groups, so the batched send below uses its layer's
# internals (`_group_key`, `_map_channel_keys_to_connection`, `consistent_hash`,
# `connection`, `group_expiry`, `expiry`); `_batched_redis_layer` checks they are there
# and any other layer, or a release without them, sends per group through the public
# `group_send`. apps/realtime/tests/test_publish_batch.py and test_channel_layer.py run it on
# a real Redis (order, every member, capacity, a slow client). For the
# Redis layer, the events of one batch (one transaction) go out in two round trips
# per Redis connection, however many: one pipeline reads the members of every group
# the batch addresses, one script call fills every member channel's queue with its
# events in publish order. A socket that belongs to several of an event's groups
# gets that event once.
#
# KEYS: one channel queue per copy (a key repeats when a channel gets several events).
# ARGV: the copies' messages, then their capacities, then their scores (the order a
# channel reads them in), then the expiry and the oldest score kept.
_REDIS_GROUP_SEND = """
local n = #KEYS
local expiry = ARGV[3 * n + 1]
local oldest = ARGV[3 * n + 2]
local over_capacity = 0
local trimmed = {}
for i=1,n do
  local key = KEYS[i]
  if not trimmed[key] then
    redis.call('ZREMRANGEBYSCORE', key, 0, oldest)
    trimmed[key] = true
  end
  if redis.call('ZCARD', key) < tonumber(ARGV[n + i]) then
    redis.call('ZADD', key, ARGV[2 * n + i], ARGV[i])
    redis.call('EXPIRE', key, expiry)
  else
    over_capacity = over_capacity + 1
  end
end
return over_capacity
"""
# A channel reads its queue in score order. The copies of one batch are scored one
# step apart, and a batch starts after the last score this process gave, so events
# published in order by one process are read in that order even when a batch's
# scores run ahead of the clock. 10 µs is well above a double's resolution at
# today's epoch seconds (about 0.24 µs).
_SCORE_STEP = 1e-5
_score_lock = threading.Lock()
_last_score = 0.0
# Copies per script call: a bound on how long one call holds Redis.
_SEND_CHUNK = 2000


def _scores(count: int) -> float:
    """The first of `count` increasing scores for one batch (see _SCORE_STEP)."""
    global _last_score
    with _score_lock:
        first = max(time.time(), _last_score + _SCORE_STEP)
        _last_score = first + (count - 1) * _SCORE_STEP
    return first


def _batched_redis_layer(layer) -> bool:
    """Whether `layer` is channels-redis's RedisChannelLayer (or a subclass) with the
    internals the batched send uses (pinned in requirements.txt; any other layer sends
    per group)."""
    from channels_redis.core import RedisChannelLayer

    return isinstance(layer, RedisChannelLayer) and all(
        hasattr(layer, name)
        for name in ("_group_key", "consistent_hash", "connection", "_map_channel_keys_to_connection",
                     "group_expiry", "expiry", "require_valid_group_name")
    )


async def _redis_send_batch(layer, batch: list[tuple[list[str], dict]]) -> None:
    """Send each (groups, message) of `batch` to the current members of its groups,
    in order, in two round trips per Redis connection."""
    now = time.time()
    by_connection: dict[int, list[str]] = {}
    for group in dict.fromkeys(group for groups, _ in batch for group in groups):
        layer.require_valid_group_name(group)
        by_connection.setdefault(layer.consistent_hash(group), []).append(group)
    members: dict[str, list[str]] = {}
    for index, names in by_connection.items():
        pipe = layer.connection(index).pipeline(transaction=False)
        for group in names:
            key = layer._group_key(group)
            pipe.zremrangebyscore(key, min=0, max=int(now) - layer.group_expiry)
            pipe.zrange(key, 0, -1)
        replies = await pipe.execute()
        for group, channels in zip(names, replies[1::2]):
            members[group] = [name.decode("utf8") for name in channels]
    copies: dict[int, tuple[list, list, list, list]] = {}
    first = _scores(len(batch))
    for position, (groups, message) in enumerate(batch):
        channel_names = list(dict.fromkeys(name for group in groups for name in members[group]))
        if not channel_names:
            continue
        score = first + position * _SCORE_STEP
        to_connection, keys_to_message, keys_to_capacity = layer._map_channel_keys_to_connection(
            channel_names, message)
        for index, keys in to_connection.items():
            keys_of, messages, capacities, scores = copies.setdefault(index, ([], [], [], []))
            for key in keys:
                keys_of.append(key)
                messages.append(keys_to_message[key])
                capacities.append(keys_to_capacity[key])
                scores.append(score)
    oldest = int(now) - int(layer.expiry)
    for index, (keys, messages, capacities, scores) in copies.items():
        for start in range(0, len(keys), _SEND_CHUNK):
            part = slice(start, start + _SEND_CHUNK)
            count = len(keys[part])
            over = await layer.connection(index).eval(
                _REDIS_GROUP_SEND, count, *keys[part], *messages[part], *capacities[part], *scores[part],
                layer.expiry, oldest)
            if over:
                logger.info("%s of %s copies over capacity", over, count)


async def _group_send_all(layer, batch: list[tuple[list[str], dict]]) -> None:
    """Send each (groups, message) in order (a channel sees the events in publish order)."""
    if _batched_redis_layer(layer):
        try:
            await _redis_send_batch(layer, batch)
        except Exception:  # a live update is best effort; the data is committed
            logger.exception("publish of %d events (%s...) failed", len(batch), batch[0][1].get("event"))
            replay.mark_lost()
        return
    for groups, message in batch:
        for group in groups:
            try:
                await layer.group_send(group, message)
            except Exception:
                logger.exception("publish %s to %s failed", message.get("event"), group)
                replay.mark_lost()


def _thread_loop() -> asyncio.AbstractEventLoop:
    """One event loop per publishing thread, kept for the thread's life.

    channels-redis keeps its connection pool per event loop; `async_to_sync` would
    make a new loop (and a new Redis connection) for every event.
    """
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    return loop


def _deliver(layer, batch: list[tuple[list[str], dict]]) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        # A loop runs in this very thread (sync code called straight from async code,
        # or a test driving a browser): asgiref refuses to block it, so the batch goes
        # out from a short-lived thread of its own.
        sender = threading.Thread(target=lambda: asyncio.run(_group_send_all(layer, batch)),
                                  name="publish-from-loop-thread")
        sender.start()
        sender.join()
        return
    _thread_loop().run_until_complete(_group_send_all(layer, batch))


def _send_many(events: list[tuple[str, dict, list[str]]]) -> None:
    """Send events (event_type, data, groups) in order: one replay-log call for all of
    them, one event-loop run for their delivery."""
    for event_type, data, groups in events:
        for listener in list(_listeners):
            listener(event_type, data, groups)
    layer = get_channel_layer()
    events = [event for event in events if event[2]]
    if layer is None or not events:
        return
    try:
        # The id is the client's cursor; the same call keeps the event for catch-up.
        ids, epoch = replay.get_log().append_many_epoch(events)
    except Exception:  # without the log the events still go out live, without a cursor
        logger.exception("replay log append of %s failed", ", ".join(e[0] for e in events))
        replay.mark_lost()  # a page away now would miss them: its catch-up resets
        ids, epoch = [None] * len(events), None
    # The epoch goes along: a socket that started from an older one has missed events
    # lost in between (replay.py) and is told to reload (apps/live).
    _deliver(layer, [
        (groups, {"type": "inbox.event", "id": event_id, "event": event_type, "data": data, "epoch": epoch})
        for (event_type, data, groups), event_id in zip(events, ids)
    ])


def _send(event_type: str, data: dict, groups: list[str]) -> None:
    _send_many([(event_type, data, groups)])


@contextmanager
def gathered():
    """The events whose transaction commits inside the block leave together when it
    ends (one replay-log call, one delivery, in commit order), rather than each on its
    own commit: for code that commits many events at once (the inbound drain's batch,
    the sending batch). Events committed inside the block are sent even when it ends
    with an exception (their data is committed); those of a rolled-back transaction or
    savepoint never reach it (Django drops their on-commit callbacks). A block inside
    another sends its own events when it ends."""
    outer = getattr(_local, "gathered", None)
    events: list[tuple[str, dict, list[str]]] = []
    _local.gathered = events
    try:
        yield
    finally:
        _local.gathered = outer
        if events:
            _send_many(events)


def _committed(event: tuple[str, dict, list[str]]) -> None:
    gathering = getattr(_local, "gathered", None)
    if gathering is not None:
        gathering.append(event)
    else:
        _send_many([event])


def publish_now(event_type: str, data: dict, *, groups: Iterable[str]) -> None:
    """Send at once, for events that are not the result of a transaction (typing,
    presence). Sync code only (consumers call it through database_sync_to_async)."""
    _send(event_type, json.loads(json.dumps(data, cls=DjangoJSONEncoder)), list(dict.fromkeys(groups)))


def publish(event_type: str, data: dict, *, groups: Iterable[str]) -> None:
    """Send `event_type` with `data` (JSON-serialisable) to `groups` on commit."""
    groups = list(dict.fromkeys(groups))
    # Normalise dates and decimals now, so every consumer sees plain JSON.
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    event = (event_type, data, groups)
    # Listed before the commit: killed between the commit and the hand-over, this
    # process is seen dead and the replay epoch moves (publishers.py).
    publishers.join()
    transaction.on_commit(lambda: _committed(event))


def sockets_signal(message_type: str, *, groups: Iterable[str], **fields) -> None:
    """Send a control message (no event: no cursor, nothing kept for catch-up) to the
    sockets of `groups` on commit, e.g. "inbox.rights" to make them recompute what
    their user may see."""
    groups = list(dict.fromkeys(groups))
    message = {"type": message_type, **fields}

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None and groups:
            _deliver(layer, [(groups, message)])

    transaction.on_commit(send)
