"""Send-rate limits shared by every worker: the per-number throughput and the pair rate.

Each limit is a GCRA bucket (the "generic cell rate algorithm", a token bucket kept
as one timestamp): `rate` sends per second, up to `burst` at once after a quiet
period. A caller does not poll: it *reserves* the next free slot, up to
`max_wait` seconds ahead, and sleeps until that slot (waiting is not failing). A
send needs a slot in both its number's bucket and its (number, customer) pair
bucket; both are reserved together, or neither, so a refusal wastes nothing.

The number's bucket has a burst of 1 by default: slots exactly 1/rate apart, so
no wall-clock second ever holds more than `rate` sends (Meta counts per second).

The buckets live in Redis (settings.REDIS_URL) and are changed by one Lua script
on Redis's own clock (atomic, so two workers can never take the same slot, and
workers on machines with different clocks agree).
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

PREFIX = "ratelimit:"

# KEYS: the buckets. ARGV: max_wait_us, then per key: interval_us, tolerance_us.
# Each bucket stores its "theoretical arrival time" (tat, µs on Redis's clock).
# Returns {granted (1|0), delay_us}: with 1 the slot is `delay_us` from now and
# taken in every bucket; with 0 nothing is taken and `delay_us` is how long to wait
# before a slot within max_wait would be free.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local max_wait = tonumber(ARGV[1])
local slot = now
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local tolerance = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  tats[i] = tat
  local earliest = tat - tolerance
  if earliest > slot then slot = earliest end
end
if slot - now > max_wait then
  return {0, slot - now - max_wait}
end
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local tolerance = tonumber(ARGV[2 * i + 1])
  local tat = tats[i]
  if slot > tat then tat = slot end
  tat = tat + interval
  redis.call('SET', key, string.format('%d', tat), 'PX', math.ceil((tat - now + tolerance) / 1000) + 1000)
end
return {1, slot - now}
"""

# The slots of a batch of messages of one number, in order, in one call. KEYS: the
# number's bucket, then each message's pair bucket. ARGV: max_wait_us, the number's
# interval_us and tolerance_us, the pairs' interval_us and tolerance_us. Returns per
# message {granted (1|0), delay_us, refused by its pair (1|0)}, as `_LUA` would for
# each message in turn (a refused message takes nothing), then Redis's time (µs).
_LUA_BATCH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local max_wait = tonumber(ARGV[1])
local n_interval, n_tolerance = tonumber(ARGV[2]), tonumber(ARGV[3])
local p_interval, p_tolerance = tonumber(ARGV[4]), tonumber(ARGV[5])
local ntat = tonumber(redis.call('GET', KEYS[1]) or '0')
if ntat < now then ntat = now end
local taken = false
local out = {}
for i = 2, #KEYS do
  local ptat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if ptat < now then ptat = now end
  local slot = now
  if ntat - n_tolerance > slot then slot = ntat - n_tolerance end
  local by_pair = 0
  if ptat - p_tolerance > slot then slot = ptat - p_tolerance; by_pair = 1 end
  if slot - now > max_wait then
    out[#out + 1] = 0; out[#out + 1] = slot - now - max_wait; out[#out + 1] = by_pair
  else
    if slot > ntat then ntat = slot end
    ntat = ntat + n_interval
    if slot > ptat then ptat = slot end
    ptat = ptat + p_interval
    redis.call('SET', KEYS[i], string.format('%d', ptat), 'PX', math.ceil((ptat - now + p_tolerance) / 1000) + 1000)
    taken = true
    out[#out + 1] = 1; out[#out + 1] = slot - now; out[#out + 1] = 0
  end
end
if taken then
  redis.call('SET', KEYS[1], string.format('%d', ntat), 'PX', math.ceil((ntat - now + n_tolerance) / 1000) + 1000)
end
out[#out + 1] = now
return out
"""

# Give back one slot of each bucket (KEYS), each taken for a call that was never made:
# its "theoretical arrival time" moves back by its interval (ARGV), never before now.
_LUA_REFUND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat > now then
    tat = tat - interval
    if tat < now then tat = now end
    redis.call('SET', key, string.format('%d', tat), 'KEEPTTL')
  end
end
return #KEYS
"""

# How far ahead of now a bucket's slots are taken (µs, 0 when free now).
_LUA_AHEAD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then return 0 end
return tat - now
"""

_redis = None
_script = None
_batch_script = None
_ahead_script = None
_refund_script = None
_redis_lock = threading.Lock()


def _redis_script():
    global _redis, _script, _batch_script, _ahead_script, _refund_script
    with _redis_lock:
        if _script is None:
            import redis

            _redis = redis.Redis.from_url(settings.REDIS_URL)
            _script = _redis.register_script(_LUA)
            _batch_script = _redis.register_script(_LUA_BATCH)
            _ahead_script = _redis.register_script(_LUA_AHEAD)
            _refund_script = _redis.register_script(_LUA_REFUND)
        return _script


def client():
    """The Redis client of the limits (settings.REDIS_URL)."""
    _redis_script()
    return _redis


class Limit:
    """`rate` per second, `burst` at once."""

    __slots__ = ("key", "rate", "burst")

    def __init__(self, key: str, *, rate: float, burst: float = 1):
        self.key = key
        self.rate = max(float(rate), 1e-6)
        self.burst = max(float(burst), 1.0)

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    @property
    def tolerance(self) -> float:
        return (self.burst - 1) * self.interval


def reserve(limits: list[Limit], *, max_wait: float = 0.0) -> tuple[bool, float]:
    """Reserve one slot in every bucket of `limits` at the same moment, at most
    `max_wait` seconds from now. (True, seconds until the slot) when reserved;
    (False, seconds to wait before trying again) when every slot is further away
    (nothing is taken then)."""
    args = [int(max_wait * 1_000_000)]
    for limit in limits:
        args += [int(limit.interval * 1_000_000), int(limit.tolerance * 1_000_000)]
    granted, delay_us = _redis_script()(keys=[PREFIX + limit.key for limit in limits], args=args)
    return bool(granted), int(delay_us) / 1_000_000


def acquire(key: str, *, rate: float, burst: float) -> float:
    """Take one slot from bucket `key` now: 0.0, or the seconds to wait (nothing taken)."""
    granted, delay = reserve([Limit(key, rate=rate, burst=burst)])
    return 0.0 if granted else delay


def reset(key: str | None = None) -> None:
    """Forget a bucket (or every bucket): tests and admin tools."""
    _redis_script()
    if key is not None:
        _redis.delete(PREFIX + key)
    else:
        for name in _redis.scan_iter(match=PREFIX + "*", count=1000):
            _redis.delete(name)


def reserve_batch(number_limit: Limit, pair_limits: list[Limit], *, max_wait: float) -> list[tuple[bool, float, bool]]:
    """The slots of several messages of one number, in order (one Redis call):
    per message (granted, seconds until its slot or, refused, before trying again,
    refused by its pair's limit). Each message is treated as `reserve([number_limit,
    its pair_limit])` would in turn; a refused message takes nothing."""
    if not pair_limits:
        return []
    _redis_script()
    args = [int(max_wait * 1_000_000), int(number_limit.interval * 1_000_000),
            int(number_limit.tolerance * 1_000_000)]
    args += [int(pair_limits[0].interval * 1_000_000), int(pair_limits[0].tolerance * 1_000_000)]
    keys = [PREFIX + number_limit.key] + [PREFIX + limit.key for limit in pair_limits]
    redis_clock.calibrate(_redis)
    before = time.time()
    raw = _batch_script(keys=keys, args=args)
    after = time.time()
    at = int(raw[-1]) / 1_000_000
    redis_clock.sample(before, after, at)
    return Slots([(bool(raw[i]), int(raw[i + 1]) / 1_000_000, bool(raw[i + 2])) for i in range(0, len(raw) - 1, 3)],
                 at)


class Slots(list):
    """A reservation's slots (see `reserve_batch`), and `at`: Redis's time when it
    reserved them (seconds since the epoch), from which their delays count."""

    __slots__ = ("at",)

    def __init__(self, slots, at: float):
        super().__init__(slots)
        self.at = at


class RedisClock:
    """This process's view of Redis's clock, from whose time the slots count.

    A slot is `delay` after Redis's time at the reservation, not after the moment the
    answer reached the worker's thread: that comes a round trip later, and much later
    in a thread that waited for the CPU or the GIL (tens of milliseconds on a busy
    machine). Counted from it, a batch's calls moved later than their slots by that
    wait, into the next batch's, and a number could make more calls than its limit in
    a sliding second. So each reservation's Redis time is mapped to this host's clock:
    Redis's clock minus ours lies between (Redis's time - ours after the call) and
    (Redis's time - ours before it); the bounds of the calls of the last minute are
    intersected (as tight as the fastest round trip among them) and the lower one is
    taken: a slot is then never placed before its time, at most that round trip after
    it (a call placed early could crowd the one before; one late by more than
    pacing.LATE_SLOT is not made)."""

    WINDOW = 60.0
    # Bounds wider than this are narrowed with a few TIME calls before a reservation
    # (`calibrate`): a process's first reservation opens its connection and loads the
    # scripts, so its round trip is slow and its bounds loose, and its slots placed
    # late by as much. When the next reservation's fast round trip narrows them, its
    # slots are placed on time, closer to the previous ones than their interval: after
    # a restart, more calls than the limit in a sliding second.
    TIGHT = 0.002
    CALIBRATE_TRIES = 5
    CALIBRATE_EVERY = 1.0

    def __init__(self):
        self._lock = threading.Lock()
        self.low, self.high, self.since = 0.0, 0.0, None
        self._calibrated = None

    def loose(self) -> bool:
        """No bounds yet, bounds to be renewed (older than WINDOW), or wider than TIGHT."""
        with self._lock:
            return (self.since is None or time.monotonic() - self.since > self.WINDOW
                    or self.high - self.low > self.TIGHT)

    def calibrate(self, redis_client) -> None:
        """Narrow loose bounds with up to CALIBRATE_TRIES calls of Redis's TIME (at
        most once per CALIBRATE_EVERY: on a machine too busy for a fast round trip the
        bounds narrow as reservations come)."""
        now = time.monotonic()
        if not self.loose() or (self._calibrated is not None and now - self._calibrated < self.CALIBRATE_EVERY):
            return
        self._calibrated = now
        for _try in range(self.CALIBRATE_TRIES):
            before = time.time()
            seconds, micros = redis_client.time()
            self.sample(before, time.time(), seconds + micros / 1_000_000)
            if not self.loose():
                return

    def sample(self, before: float, after: float, redis_time: float) -> None:
        low, high = redis_time - after, redis_time - before
        now = time.monotonic()
        with self._lock:
            if self.since is None or now - self.since > self.WINDOW or low > self.high or high < self.low:
                self.low, self.high, self.since = low, high, now  # afresh (or a clock was stepped)
            else:
                self.low, self.high = max(self.low, low), min(self.high, high)

    def monotonic(self, redis_time: float) -> float:
        """The time.monotonic() of Redis's time `redis_time` (seconds since the epoch)."""
        with self._lock:
            skew = self.low if self.since is not None else 0.0
        return time.monotonic() + (redis_time - skew - time.time())


redis_clock = RedisClock()


def taken_ahead(key: str) -> float:
    """Seconds until bucket `key`'s next slot with a burst of 1 (0.0 when free now)."""
    _redis_script()
    return int(_ahead_script(keys=[PREFIX + key])) / 1_000_000


def number_key(number) -> str:
    return f"number:{number.phone_number_id}"


def pair_key(number, wa_id: str) -> str:
    return f"pair:{number.phone_number_id}:{wa_id}"


# The number's bucket runs this much below its limit: a send leaves up to
# pacing.LATE_SLOT (30 ms) after its slot and reaches Meta a little later, and that
# jitter must not crowd more than `rate` sends into one of Meta's seconds. Slots
# 1/(0.96 x rate) apart leave any window of 1 s + 40 ms at most `rate` slots (at 80/s).
NUMBER_HEADROOM = 0.96


def number_limit(number) -> Limit:
    return Limit(number_key(number), rate=number.rate_limit_per_second * NUMBER_HEADROOM,
                 burst=settings.SEND_NUMBER_BURST)


def pair_limit(number, wa_id: str) -> Limit:
    return Limit(pair_key(number, wa_id), rate=settings.SEND_PAIR_RATE_PER_SECOND, burst=settings.SEND_PAIR_BURST)


def send_limits(number, wa_id: str) -> list[Limit]:
    """The two limits one message of `number` to customer `wa_id` must respect."""
    return [number_limit(number), pair_limit(number, wa_id)]


def send_reserve_batch(number, wa_ids: list[str], *, max_wait: float) -> list[tuple[bool, float, bool]]:
    """The send slots of several messages of `number` (see `reserve_batch`)."""
    return reserve_batch(number_limit(number), [pair_limit(number, wa_id) for wa_id in wa_ids], max_wait=max_wait)


def pairs_refund(number, wa_ids: list[str]) -> None:
    """Give back the pair slots of messages of `number` whose calls were never made
    (found late: they take new slots). Each call taken and given up would otherwise
    count against its customer, and a message found late a few times in a row would
    wait out the pair's limit (one message per 6 s past its burst) for calls that
    never went. The number's slot is not given back: later slots of the number may
    have been taken since, and moving its time back would hand one of them out twice."""
    if not wa_ids:
        return
    _redis_script()
    limits = [pair_limit(number, wa_id) for wa_id in wa_ids]
    _refund_script(keys=[PREFIX + limit.key for limit in limits], args=[int(limits[0].interval * 1_000_000)])


def send_reserve(number, wa_id: str, *, max_wait: float) -> tuple[bool, float]:
    """Reserve the send slot of one message (see `reserve`)."""
    return reserve(send_limits(number, wa_id), max_wait=max_wait)


def send_wait(number, wa_id: str) -> float:
    """Take a send slot now: 0.0 when the message may go now, else the seconds to wait."""
    granted, delay = send_reserve(number, wa_id, max_wait=0.0)
    return 0.0 if granted else delay
