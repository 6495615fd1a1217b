"""Telling connected sockets that the replay epoch moved.

The epoch moves when events were lost: a publish that failed (Redis down), or a
publishing process that died between its commit and the hand-over
(apps/realtime/publishers.py). A page that reconnects with an older cursor is reset
by its catch-up; a page connected all along would not be, and stay silently behind.
So each socket remembers the epoch it started from, and is sent `catch_up.reset`
(its page reloads) as soon as the epoch is seen newer:

- on the next event relayed to it (each carries the epoch it was appended in);
- by the EpochWatch of its process, every CHECK_SECONDS, for a loss followed by no
  event: one Redis call per process (which also removes dead publishers).
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from apps.realtime import publishers, replay

logger = logging.getLogger(__name__)

CHECK_SECONDS = 1.0


def newer(epoch: str | None, than: str | None) -> bool:
    """Whether `epoch` moved past `than` (a log lost, epoch None, counts as moved)."""
    if than is None:
        return False
    if epoch is None:
        return True
    try:
        return replay.parse_id(epoch) > replay.parse_id(than)
    except ValueError:
        return epoch != than


def _look() -> tuple[str | None, str]:
    return publishers.check(), replay.cursor_now()


class EpochWatch:
    """The epoch check of the sockets of one event loop (one process's)."""

    def __init__(self):
        self.sockets: set = set()
        self.task: asyncio.Task | None = None
        self.epoch: str | None = None
        self.known = False

    async def add(self, consumer) -> None:
        """Start watching `consumer`; its epoch is the current one."""
        if not self.known:
            await self.check()
        consumer.epoch = self.epoch
        self.sockets.add(consumer)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, consumer) -> None:
        self.sockets.discard(consumer)
        if not self.sockets and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _run(self) -> None:
        while self.sockets:
            await asyncio.sleep(CHECK_SECONDS)
            await self.check()

    async def check(self) -> None:
        try:
            # Off the event loop: Redis away for a moment must not stall the sockets.
            epoch, cursor = await asyncio.to_thread(_look)
        except Exception:  # Redis away: look again next time
            logger.info("live events: the epoch check did not reach Redis", exc_info=True)
            return
        self.epoch, self.known = epoch, True
        for consumer in list(self.sockets):
            if consumer.epoch is None and epoch is not None:
                consumer.epoch = epoch  # connected before the log had one: nothing was kept to miss
            elif newer(epoch, consumer.epoch):
                try:
                    await consumer.epoch_moved(epoch, cursor)
                except Exception:
                    logger.exception("a socket of user %s was not told the epoch moved", consumer.user.id)


_watches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def epoch_watch() -> EpochWatch:
    """The EpochWatch of the running event loop."""
    loop = asyncio.get_running_loop()
    watch = _watches.get(loop)
    if watch is None:
        watch = _watches[loop] = EpochWatch()
    return watch
