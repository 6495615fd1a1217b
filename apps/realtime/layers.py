"""The channel layer on Redis, receiving in batches.

channels-redis keeps every socket's messages of one process in a single sorted set and
reads it one message at a time, in four sequential Redis round trips (restore the
in-flight backup, BZPOPMIN, copy to the backup, remove from the backup), one reader at
a time for the whole process. With 200 sockets on one daphne process each receiving an
event a second, that reader was the ceiling (measured by bench/inbox_scale.py: about
110 events/s on a loaded machine, the rest queued for tens of seconds).

`BatchedRedisChannelLayer` reads whatever is waiting, up to RECEIVE_BATCH messages, in
one Lua script (restore the backup, pop, copy to the backup) and then removes exactly
those messages from the backup: two round trips per batch. It hands
every message of the batch to its channel's buffer at once, so all the waiting
consumers wake together. When nothing is waiting it blocks exactly as channels-redis
does (BZPOPMIN). Everything else (send, groups, capacity, expiry, the backup's
cancellation safety) is channels-redis's own.
"""

from __future__ import annotations

import asyncio

from channels_redis.core import RedisChannelLayer
from redis.exceptions import RedisError

from . import replay

RECEIVE_BATCH = 500

# KEYS[1] the process's queue, KEYS[2] its in-flight backup; ARGV[1] the batch size.
# The backup of a cancelled read goes back first (as channels-redis's own cleanup does),
# then up to ARGV[1] messages move from the queue to the backup and are returned.
_POP_BATCH = """
local backed_up = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = #backed_up, 1, -2 do
  redis.call('ZADD', KEYS[1], backed_up[i], backed_up[i - 1])
end
redis.call('DEL', KEYS[2])
local popped = redis.call('ZPOPMIN', KEYS[1], tonumber(ARGV[1]))
for i = 1, #popped, 2 do
  redis.call('ZADD', KEYS[2], popped[i + 1], popped[i])
end
return popped
"""


class BatchedRedisChannelLayer(RedisChannelLayer):
    receive_batch = RECEIVE_BATCH

    def __init__(self, *args, receive_batch: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if receive_batch is not None:
            self.receive_batch = int(receive_batch)

    async def receive(self, channel):
        try:
            return await super().receive(channel)
        except (OSError, RedisError):
            # Redis does not answer: whatever was published meanwhile may be lost for
            # this process's sockets, so their next catch-up must reset (replay.py).
            await asyncio.to_thread(replay.mark_lost)
            raise

    async def receive_single(self, channel):
        # Only the process-local queue ("specific.<prefix>!") is read in batches; it is
        # called under the layer's receive lock, so one reader at a time.
        if not channel.endswith("!") or self.receive_batch <= 1:
            return await super().receive_single(channel)
        assert self.require_valid_channel_name(channel, receive=True), "Channel name invalid"
        index = self.consistent_hash(channel)
        channel_key = self.prefix + channel
        backup_key = self._backup_channel_name(channel_key)
        connection = self.connection(index)
        await self.receive_clean_locks.acquire(channel_key)
        try:
            # Cancelled while waiting for the reply: the messages are in the backup and
            # the next read restores them.
            popped = await connection.eval(_POP_BATCH, 2, channel_key, backup_key, self.receive_batch)
        except BaseException:
            self.receive_clean_locks.release(channel_key)
            raise
        if not popped:
            self.receive_clean_locks.release(channel_key)
            # Nothing waiting: block for the next one, as channels-redis does.
            return await super().receive_single(channel)
        members = popped[0::2]
        messages = [self.deserialize(member) for member in members]
        cleaner = self._clean_backup(connection, backup_key, members, channel_key)
        # The caller puts the message it gets back into its channel's buffer: the
        # others go in first, the last is returned, so each buffer keeps queue order.
        *others, last = messages
        for message in others:
            self._buffer(message, channel)
        try:
            # Wait for the backup to be emptied, so that a read on another event loop
            # (or after this one is closed) cannot restore the batch a second time.
            await asyncio.shield(cleaner)
        except BaseException:
            self._buffer(last, channel)  # the caller will not
            raise
        return last.pop("__asgi_channel__", channel), last

    def _buffer(self, message: dict, channel: str) -> None:
        target = message.pop("__asgi_channel__", channel)
        for name in target if isinstance(target, list) else [target]:
            self.receive_buffer[name].put_nowait(message)

    def _clean_backup(self, connection, backup_key, members, channel_key) -> asyncio.Future:
        """Remove exactly the batch's messages from the backup; the channel's clean lock
        is held until then, as channels-redis does."""
        cleaner = asyncio.ensure_future(connection.zrem(backup_key, *members))
        self.receive_cleaners.append(cleaner)

        def _done(task):
            self.receive_cleaners.remove(task)
            self.receive_clean_locks.release(channel_key)

        cleaner.add_done_callback(_done)
        return cleaner

