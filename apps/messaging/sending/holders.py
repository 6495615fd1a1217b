"""Who holds a claim, and whether it is still alive.

A claim (claim.py) is taken by one process, which then calls Meta. If that process
is killed (kill -9, the OOM killer, a lost host) its claims would wait for their
expiry: UNSTARTED_EXPIRY (10 s) before one whose call never started is given back,
claim_expiry() (a minute and more) before one whose call started is marked
interrupted. Sending would be back only after that.

So each process that claims beats in Redis (`send:holder:<name>`, living HOLDER_TTL,
set every BEAT_SECONDS from a thread of its own), and each claim records its holder
(`send:claim:<claim time>` -> name, one SET per claim statement, living as long as
the claim can). A claim whose holder is recorded and no longer beats belongs to a
dead process: the sweep (run.pending_sweep) and the message's own task settle it at
once, the same way as after the expiry (given back when its call never started,
interrupted when it did; never sent twice: claim.py's conditional UPDATEs).

A holder wrongly taken for dead (its beat thread starved for HOLDER_TTL) loses
nothing either: a claim given back can no longer have its call recorded by it
(`calls_start` checks the claim), and a call it still answers stores its wamid over
"interrupted" (outcome.py). A claim with no holder recorded (Redis away at the time)
waits for its expiry, as before.

Which recorded calls were written: a call is recorded in the database a moment
before its request (claim.calls_start, one UPDATE per wave of calls), so a holder
killed in that moment leaves calls recorded that never reached Meta. So the sender
loop also marks the calls of each wave in Redis just before the first of them is
due (`calls_mark`, `send:call:<claim time>:<message id>` = "w", one round trip,
transport.BEFORE_WRITE_LEAD ahead), and writes a call only if its mark was set: a
holder killed then leaves at most the calls of that one wave (tens of milliseconds
of a number's slots) marked and not written, however far behind its loop was. When the holder is dead, `calls_settle` tells, in one script, the recorded
calls with a mark (written, or about to be: nobody can know, "interrupted") from
those without (never written); these it marks released ("x"), so that a holder
wrongly taken for dead can no longer write them, and their claims are given back
(claim.claims_release_unwritten): the messages go out as any other. The marks are
trusted only while the Redis that holds them is the one that held the claim (its
run_id is recorded with the claim): after a restart or a failover some marks may
be lost, and every recorded call is then "interrupted", as without marks.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

from django.conf import settings

from . import ratelimit

logger = logging.getLogger(__name__)

HOLDER_PREFIX = "send:holder:"
CLAIM_PREFIX = "send:claim:"
RUN_PREFIX = "send:claim-run:"
CALL_PREFIX = "send:call:"
BEAT_SECONDS = 0.5
HOLDER_TTL = 3.0
MARK_TIMEOUT = 0.25  # seconds the sender loop waits for Redis to mark a call

_lock = threading.Lock()
_pid: int | None = None
_name = ""


def _beat() -> None:
    ratelimit.client().set(HOLDER_PREFIX + _name, 1, px=int(HOLDER_TTL * 1000))


def _beat_forever(pid: int) -> None:
    while _pid == pid:
        time.sleep(BEAT_SECONDS)
        try:
            _beat()
        except Exception:  # Redis away: the claims then wait for their expiry
            logger.debug("send holder beat failed", exc_info=True)


def holder() -> str:
    """This process's name as a holder of claims; it beats from the first call on."""
    global _pid, _name
    pid = os.getpid()
    if _pid == pid:
        return _name
    with _lock:
        if _pid != pid:
            _name = f"{socket.gethostname()}:{pid}:{secrets.token_hex(4)}"
            _beat()
            _pid = pid
            threading.Thread(target=_beat_forever, args=(pid,), name="send-holder-beat", daemon=True).start()
    return _name


def claim_key(claimed_at) -> str:
    """A claim's key: its time, to the microsecond (as stored in send_started_at)."""
    return f"{CLAIM_PREFIX}{claimed_at.timestamp():.6f}"


def _stamp(claimed_at) -> str:
    return f"{claimed_at.timestamp():.6f}"


# KEYS: the claim key, its run key. ARGV: the holder's name, the keys' life (ms).
_LUA_HELD = """
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], run or '', 'PX', ARGV[2])
return 1
"""
_held_script = None


def claims_held(claimed_at, ttl: float) -> None:
    """Record that this process holds the claims taken at `claimed_at`, and which
    Redis server holds that record (its run_id: `calls_settle`). One round trip.
    Best effort: unrecorded, they wait for their expiry."""
    global _held_script
    try:
        if _held_script is None:
            _held_script = ratelimit.client().register_script(_LUA_HELD)
        _held_script(keys=[claim_key(claimed_at), RUN_PREFIX + _stamp(claimed_at)],
                     args=[holder(), int(ttl * 1000)])
    except Exception:
        logger.warning("the holder of the claims of %s was not recorded", claimed_at, exc_info=True)


def call_key(claimed_at, message_id: int) -> str:
    return f"{CALL_PREFIX}{_stamp(claimed_at)}:{message_id}"


# KEYS: the claim's run key, then the calls' keys. ARGV: the keys' life (ms).
# Returns {trusted (1|0), then per call 1 (marked written) or 0 (now released)};
# untrusted (the run key lost, or another Redis server now): nothing is changed.
_LUA_SETTLE = """
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
local held = redis.call('GET', KEYS[1])
if not run or not held or held ~= run then return {0} end
local out = {1}
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == 'w' then
    out[#out + 1] = 1
  else
    redis.call('SET', KEYS[i], 'x', 'PX', ARGV[1])
    out[#out + 1] = 0
  end
end
return out
"""
_settle_script = None
_marks_of_loop = None


# KEYS: the calls' keys. ARGV: their life (ms). Per call: 1 marked, 0 released by a
# settlement (left so: never written).
_LUA_MARK = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == 'x' then
    out[i] = 0
  else
    redis.call('SET', key, 'w', 'PX', ARGV[1])
    out[i] = 1
  end
end
return out
"""


def _marks_script():
    """The sender loop's script for the marks, on a client bound to the running loop
    (one per process): one command per wave, whatever its size."""
    import asyncio

    import redis.asyncio

    global _marks_of_loop
    loop = asyncio.get_running_loop()
    if _marks_of_loop is None or _marks_of_loop[0] is not loop:
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_timeout=MARK_TIMEOUT,
                                              socket_connect_timeout=MARK_TIMEOUT)
        _marks_of_loop = (loop, client, client.register_script(_LUA_MARK))
    return _marks_of_loop[2]


async def calls_mark(claimed_at, message_ids: list[int], ttl: float) -> list[bool]:
    """Mark, from the sender loop, that the calls of a wave (the calls of one number
    due within a few tens of milliseconds) are about to be written, just before the
    first of them is due: one round trip. Per call, True when marked (write it),
    False when a settlement had released it or Redis did not answer (do not write
    it: the batch takes it as found late)."""
    try:
        answer = await _marks_script()(keys=[call_key(claimed_at, i) for i in message_ids],
                                       args=[int(ttl * 1000)])
        return [bool(int(v)) for v in answer]
    except Exception:  # noqa: BLE001 - not marked, not written
        logger.warning("the calls of %d messages could not be marked: not made now", len(message_ids),
                       exc_info=True)
        return [False] * len(message_ids)


_warm_pid: int | None = None


def marks_warm(loop) -> None:
    """Open the sender loop's connection for the marks, once per process, before its
    first calls: their first mark would otherwise open it, and could find them late.
    `loop`: the asyncio loop. Best effort."""
    global _warm_pid
    if _warm_pid == os.getpid() or loop is None:
        return
    import asyncio

    async def ping():  # the connection opened and the script loaded
        await _marks_script()(keys=[], args=[0])

    try:
        asyncio.run_coroutine_threadsafe(ping(), loop).result(4 * MARK_TIMEOUT)
        _warm_pid = os.getpid()
    except Exception:  # noqa: BLE001 - the first marks open it
        logger.debug("the connection for the marks of calls could not be opened", exc_info=True)


def calls_settle(claimed_at, ids: list[int], ttl: float) -> tuple[set[int], set[int]] | None:
    """Of the recorded calls `ids` of a dead holder's claim taken at `claimed_at`:
    (those marked written, those never marked, now released so that nobody writes
    them). None when the marks cannot be trusted (another Redis server, or its record
    lost) or Redis does not answer: treat every call as possibly made."""
    global _settle_script
    if not ids:
        return set(), set()
    try:
        if _settle_script is None:
            _settle_script = ratelimit.client().register_script(_LUA_SETTLE)
        answer = _settle_script(keys=[RUN_PREFIX + _stamp(claimed_at)] + [call_key(claimed_at, i) for i in ids],
                                args=[int(ttl * 1000)])
    except Exception:
        logger.warning("the calls of the claims of %s could not be settled by their marks", claimed_at,
                       exc_info=True)
        return None
    if not answer or not int(answer[0]):
        return None
    marks = [int(v) for v in answer[1:]]
    return {i for i, m in zip(ids, marks) if m}, {i for i, m in zip(ids, marks) if not m}


# KEYS: claim keys. ARGV: the holder keys' prefix, the asking process's own name.
# Returns the 1-based positions of those whose holder is recorded, is not the asking
# process (alive, whatever its beat says: Redis may just have come back) and does not
# beat any more.
_LUA_GONE = """
local out = {}
for i = 1, #KEYS do
  local name = redis.call('GET', KEYS[i])
  if name and name ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. name) == 0 then
    out[#out + 1] = i
  end
end
return out
"""
_gone_script = None


def holders_gone(claim_times: list) -> set:
    """Of these claim times, those whose holder died (one Redis call; empty when
    Redis does not answer: the claims then wait for their expiry)."""
    global _gone_script
    if not claim_times:
        return set()
    try:
        if _gone_script is None:
            _gone_script = ratelimit.client().register_script(_LUA_GONE)
        own = _name if _pid == os.getpid() else ""
        positions = _gone_script(keys=[claim_key(at) for at in claim_times], args=[HOLDER_PREFIX, own])
    except Exception:
        logger.warning("the holders of %d claims could not be checked", len(claim_times), exc_info=True)
        return set()
    return {claim_times[int(position) - 1] for position in positions}
