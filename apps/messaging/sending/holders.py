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
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

from . import ratelimit

logger = logging.getLogger(__name__)

HOLDER_PREFIX = "send:holder:"
CLAIM_PREFIX = "send:claim:"
BEAT_SECONDS = 0.5
HOLDER_TTL = 3.0

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


def claims_held(claimed_at, ttl: float) -> None:
    """Record that this process holds the claims taken at `claimed_at` (one round
    trip). Best effort: unrecorded, they wait for their expiry."""
    try:
        ratelimit.client().set(claim_key(claimed_at), holder(), px=int(ttl * 1000))
    except Exception:
        logger.warning("the holder of the claims of %s was not recorded", claimed_at, exc_info=True)


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
