"""The processes that publish, so that one that dies holding events is noticed.

publish() hands its events over on commit: between a transaction's commit and the
end of their delivery they live only in the process's memory. A process killed then
(SIGKILL, the OOM killer, a lost host) takes them along, no replay log has them, and
nobody would know. So every process that publishes is listed in Redis (KEY: a sorted
set of member -> its last beat, in Redis's own clock). It joins at its first
publish(), inside that transaction, before anything of it commits, and beats every
BEAT_SECONDS from a thread of its own. A clean exit leaves the list (`leave`: at
exit, and from Celery's pool processes). A member whose beat is older than
DEAD_AFTER_SECONDS died without leaving: whoever looks first (any publisher's beat,
or the live sockets' epoch watch, apps/live/epoch.py) removes it and moves the
replay epoch in the same script call. Every cursor from before is then reset, so a
reconnecting page reloads, and connected sockets are told to reload at once.

A false alarm (a process frozen longer than DEAD_AFTER_SECONDS, an exit that skipped
`leave`) costs a reload of the open pages, never a silent gap. What this cannot see:
a process that could not join because Redis was down, and was killed before Redis
came back (its beat thread joins it as soon as Redis answers).
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import socket
import threading
import time

from . import replay

logger = logging.getLogger(__name__)

KEY = replay.PREFIX + "publishers"
BEAT_SECONDS = 1.0
DEAD_AFTER_SECONDS = 5.0

# KEYS: the list, the epoch. ARGV: this member ('' to only look), the age (ms) after
# which a member is dead. Returns {dead members, the epoch after}. A log without an
# epoch (Redis lost its data) gets one: every cursor from before resets, as it would.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[2])))
for i = 1, #dead do
  redis.call('ZREM', KEYS[1], dead[i])
end
if #dead > 0 or redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], now .. '-0')
end
return {dead, redis.call('GET', KEYS[2])}
"""

_lock = threading.Lock()
_pid: int | None = None  # the process that joined (a forked child joins again)
_member = ""
_joined = False  # the member is in Redis (False while Redis did not answer)
_script = None
_exit_hooked = False


def _run(member: str) -> tuple[list[str], str | None]:
    global _script
    log = replay.get_log()
    if _script is None:
        _script = log.redis.register_script(_SCRIPT)
    dead, epoch = _script(keys=[KEY, replay.EPOCH_KEY], args=[member, int(DEAD_AFTER_SECONDS * 1000)])
    dead = [replay._decoded(name) for name in dead]
    if dead:
        logger.warning("live events: publishing processes stopped without leaving (killed?): %s; the replay "
                       "epoch moved, open pages reload", ", ".join(dead))
    return dead, (replay._decoded(epoch) if epoch else None)


def join() -> None:
    """List this process as a publisher (once per process; publish() calls it inside
    the transaction whose events it will hand over on commit)."""
    global _pid, _member, _exit_hooked
    pid = os.getpid()
    if _pid == pid:
        return
    with _lock:
        if _pid == pid:
            return
        _pid = pid
        _member = f"{socket.gethostname()}:{pid}:{secrets.token_hex(4)}"
        _beat_once()
        if not _exit_hooked:
            _exit_hooked = True
            atexit.register(leave)
            # A Celery pool process's exit skips atexit: it says so with this signal.
            from celery.signals import worker_process_shutdown

            worker_process_shutdown.connect(_leave_on_signal, weak=False)
        threading.Thread(target=_beat_forever, args=(pid,), name="publisher-beat", daemon=True).start()


def _beat_once() -> None:
    global _joined
    try:
        _run(_member)
    except Exception:
        if _joined:
            logger.warning("live events: the publisher's beat did not reach Redis; trying again", exc_info=True)
        _joined = False
        return
    _joined = True


def _beat_forever(pid: int) -> None:
    while _pid == pid:
        time.sleep(BEAT_SECONDS)
        if _pid == pid:
            _beat_once()


def leave() -> None:
    """This process stops publishing (a clean exit): remove it from the list."""
    global _pid
    if _pid != os.getpid():
        return
    _pid = None
    try:
        replay.get_log().redis.zrem(KEY, _member)
    except Exception:  # its entry ages out; the epoch then moves (a reload, no gap)
        logger.info("live events: could not leave the publishers' list", exc_info=True)


def _leave_on_signal(**kwargs) -> None:
    leave()


def check() -> str | None:
    """Remove the publishers that died without leaving (moving the epoch if any did)
    and return the replay epoch. Raises when Redis does not answer."""
    return _run("")[1]
