"""Token buckets shared by every worker: the per-number throughput and the pair rate.

With settings.REDIS_URL the bucket lives in Redis and is updated by one Lua script
(atomic, so two workers can never both take the last token); on embedded defaults
an in-process bucket under a lock does the same for the one process.

`acquire(key, rate, burst)` takes a token and returns 0.0, or returns how many
seconds to wait before a token will be there (nothing is taken then).
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

PREFIX = "ratelimit:"

# KEYS[1] bucket; ARGV: rate per second, burst, now (ms). Returns the wait in ms (0 = taken).
_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000.0)
  ts = now
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000.0 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000.0 / rate) + 1000)
return wait
"""

_redis = None
_script = None
_redis_lock = threading.Lock()
_local: dict[str, tuple[float, float]] = {}
_local_lock = threading.Lock()


def _redis_script():
    global _redis, _script
    with _redis_lock:
        if _script is None:
            import redis

            _redis = redis.Redis.from_url(settings.REDIS_URL)
            _script = _redis.register_script(_LUA)
        return _script


def _now_ms() -> int:
    # Wall-clock milliseconds: the same clock for every worker on every machine
    # (close enough for a one-second bucket; Redis TIME would cost a round trip).
    return int(time.time() * 1000)


def acquire(key: str, *, rate: float, burst: float) -> float:
    """Take one token from bucket `key`; 0.0, or the seconds to wait."""
    rate = max(float(rate), 1e-6)
    burst = max(float(burst), 1.0)
    if settings.REDIS_URL:
        wait_ms = _redis_script()(keys=[PREFIX + key], args=[rate, burst, _now_ms()])
        return int(wait_ms) / 1000.0
    now = time.monotonic()
    with _local_lock:
        tokens, ts = _local.get(key, (burst, now))
        tokens = min(burst, tokens + (now - ts) * rate)
        if tokens >= 1:
            _local[key] = (tokens - 1, now)
            return 0.0
        _local[key] = (tokens, now)
        return (1 - tokens) / rate


def reset(key: str | None = None) -> None:
    """Forget a bucket (or every in-process bucket): tests and admin tools."""
    with _local_lock:
        if key is None:
            _local.clear()
        else:
            _local.pop(key, None)
    if key is not None and settings.REDIS_URL:
        _redis_script()
        _redis.delete(PREFIX + key)


def number_key(number) -> str:
    return f"number:{number.phone_number_id}"


def pair_key(number, wa_id: str) -> str:
    return f"pair:{number.phone_number_id}:{wa_id}"


def send_wait(number, wa_id: str) -> float:
    """Take a token for one message of `number` to customer `wa_id`: 0.0 when it may
    go now, else the seconds to wait. The pair bucket is charged only after the
    number's bucket granted a token; a refused pair wastes that one number token,
    which errs on the slow side rather than exceeding Meta's limit."""
    wait = acquire(number_key(number), rate=number.rate_limit_per_second, burst=number.rate_limit_per_second)
    if wait:
        return wait
    return acquire(pair_key(number, wa_id), rate=settings.SEND_PAIR_RATE_PER_SECOND, burst=settings.SEND_PAIR_BURST)
