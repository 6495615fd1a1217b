"""The replay log: every live event is kept per group, so a browser that reconnects
(after a network blip or a laptop's sleep through lunch) catches up on what it missed.

An event id is a cursor "<ms>-<seq>", taken from one monotonic clock for the whole
installation, so a single cursor works across all the groups a socket joins.

One Redis stream per group (`inbox:rt:log:<group>`). A Lua script takes the id from
a clock stream and XADDs the event to each target group's stream with that same id,
trimmed by count (MAXLEN ~) and by age (MINID ~), in one round trip; no database write.

A catch-up reads the socket's groups after the cursor, merges them by id, and answers
RESET when the gap is older than what is kept (trimmed, expired, or the log was lost).

An event that reached neither the log nor the sockets (Redis down or restarting) is
in no catch-up: the process that lost it moves the epoch (`mark_lost`) as soon as
Redis answers again, so every cursor from before the loss gets RESET and its page
reloads rather than stay silently behind. A process killed between a commit and its
publish cannot note anything: publishers.py notices it died and moves the epoch.
Each delivered event carries the epoch it was appended in, and apps/live tells a
connected socket to reload when the epoch moved past the one it started from.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from django.conf import settings

PREFIX = "inbox:rt:"
CLOCK_KEY = PREFIX + "clock"
EPOCH_KEY = PREFIX + "epoch"
# Events a reconnecting browser has no use for: they carry an id but are not kept.
EPHEMERAL_EVENTS = frozenset({"typing"})
# A catch-up starts this far before the client's cursor: two processes publishing in
# the same instant can deliver their events in swapped order, so a client may hold a
# higher id than an event it never got. The client drops the repeats by id.
MARGIN_MS = 2000


# While Redis does not answer, a process that lost events tries to move the epoch this often.
EPOCH_RETRY_SECONDS = 1.0


class Reset(Exception):
    """The gap is older than what the log keeps: the client reloads over HTTP."""


@dataclass(frozen=True)
class Entry:
    id: str
    event: str
    data: dict
    conversation_id: int | None


def parse_id(value) -> tuple[int, int]:
    """'1700000000000-3' -> (1700000000000, 3); ValueError on anything else."""
    if not isinstance(value, str) or len(value) > 41:
        raise ValueError("not a cursor")
    ms, _, seq = value.partition("-")
    if not (ms.isdigit() and (seq == "" or seq.isdigit())):
        raise ValueError("not a cursor")
    return int(ms), int(seq or 0)


def format_id(key: tuple[int, int]) -> str:
    return f"{key[0]}-{key[1]}"


def conversation_id_of(event: str, data: dict) -> int | None:
    if event.startswith("conversation."):
        value = data.get("id")
    else:
        value = data.get("conversation_id")
    return value if isinstance(value, int) else None


def _retention_ms() -> int:
    return settings.REALTIME_REPLAY_SECONDS * 1000


def _max_per_group() -> int:
    return settings.REALTIME_REPLAY_MAX_PER_GROUP


def _check_age(since: tuple[int, int]) -> None:
    now = int(time.time() * 1000)
    if since[0] < now - _retention_ms() or since[0] > now + 60_000:
        raise Reset()


_APPEND = """
local ids = {}
local touched = {}
local pos = 5
for e = 1, tonumber(ARGV[4]) do
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '1', '*', 'c', '')
  if e == 1 then
    redis.call('SET', KEYS[2], id, 'NX')
  end
  local payload = ARGV[pos]
  local k = tonumber(ARGV[pos + 1])
  for j = 1, k do
    local key = KEYS[tonumber(ARGV[pos + 1 + j])]
    redis.call('XADD', key, 'MAXLEN', '~', ARGV[1], id, 'p', payload)
    touched[key] = true
  end
  pos = pos + 2 + k
  ids[e] = id
end
for key, _ in pairs(touched) do
  redis.call('XTRIM', key, 'MINID', '~', ARGV[2])
  redis.call('EXPIRE', key, ARGV[3])
end
return {redis.call('GET', KEYS[2]), ids}
"""
# Events per script call: a bound on how long one call holds Redis.
_APPEND_CHUNK = 500


def _decoded(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _trimmed_after(info: dict, since_key: tuple[int, int]) -> bool:
    """Whether trimming may have dropped an entry newer than the cursor. Redis does not
    record the last trimmed id (max-deleted-entry-id counts XDEL only), so: some entries
    were trimmed and the oldest one kept is newer than the cursor."""
    if int(info.get("entries-added", 0)) <= int(info.get("length", 0)):
        return False
    first = info.get("first-entry")
    if first:
        return parse_id(_decoded(first[0])) > since_key
    return parse_id(_decoded(info.get("last-generated-id", b"0-0"))) > since_key


class RedisLog:
    def __init__(self, url: str):
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._append = self.redis.register_script(_APPEND)

    @staticmethod
    def key(group: str) -> str:
        return PREFIX + "log:" + group

    def clear(self) -> None:
        keys = list(self.redis.scan_iter(match=PREFIX + "*", count=1000))
        if keys:
            self.redis.delete(*keys)

    def append(self, event: str, data: dict, groups: list[str]) -> str:
        return self.append_many([(event, data, groups)])[0]

    def append_many(self, events: list[tuple[str, dict, list[str]]]) -> list[str]:
        return self.append_many_epoch(events)[0]

    def append_many_epoch(self, events: list[tuple[str, dict, list[str]]]) -> tuple[list[str], str | None]:
        """Append events in order, in one round trip: one script call for the batch
        (one per _APPEND_CHUNK events, pipelined). Returns their ids and the epoch
        they were appended in (read in the same script call)."""
        epoch_move_if_lost(self)
        min_id = f"{max(int(time.time() * 1000) - _retention_ms(), 0)}-0"
        pipe = self.redis.pipeline(transaction=False)
        for start in range(0, len(events), _APPEND_CHUNK):
            chunk = events[start:start + _APPEND_CHUNK]
            positions: dict[str, int] = {}  # stream key -> its position in KEYS (from 3)
            args = [_max_per_group(), min_id, settings.REALTIME_REPLAY_SECONDS, len(chunk)]
            for event, data, groups in chunk:
                streams = [] if event in EPHEMERAL_EVENTS else [self.key(group) for group in groups]
                args.append(json.dumps({"e": event, "d": data, "c": conversation_id_of(event, data)},
                                       separators=(",", ":")))
                args.append(len(streams))
                args.extend(positions.setdefault(key, len(positions) + 3) for key in streams)
            self._append(keys=[CLOCK_KEY, EPOCH_KEY, *positions], args=args, client=pipe)
        replies = pipe.execute()
        epoch = replies[-1][0] if replies else None
        ids = [event_id.decode() for _epoch, chunk_ids in replies for event_id in chunk_ids]
        return ids, (_decoded(epoch) if epoch else None)

    def move_epoch(self) -> None:
        """Every cursor from before now predates the log from now on (a RESET)."""
        seconds, micros = self.redis.time()
        self.redis.set(EPOCH_KEY, format_id((int(seconds) * 1000 + int(micros) // 1000, 0)))

    def cursor_now(self) -> str:
        last = self.redis.xrevrange(CLOCK_KEY, count=1)
        return last[0][0].decode() if last else format_id((int(time.time() * 1000), 0))

    def read(self, groups: list[str], since: str, limit: int) -> list[Entry]:
        epoch_move_if_lost(self)
        since_key = parse_id(since)
        _check_age(since_key)
        start = f"{max(since_key[0] - MARGIN_MS, 0)}-0"
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(EPOCH_KEY)
        for group in groups:
            pipe.xinfo_stream(self.key(group))
            pipe.xrange(self.key(group), min="(" + start, count=limit + 1)
        replies = pipe.execute(raise_on_error=False)
        epoch = replies[0]
        if epoch is None or since_key < parse_id(epoch.decode()):
            raise Reset()  # the log was lost (Redis flushed) or the cursor is not ours
        found: dict[tuple[int, int], Entry] = {}
        for info, entries in zip(replies[1::2], replies[2::2]):
            if isinstance(info, Exception):  # no such stream: nothing kept for the group
                continue
            if _trimmed_after(info, since_key):
                raise Reset()
            if len(entries) > limit:
                raise Reset()
            for entry_id, fields in entries:
                key = parse_id(entry_id.decode())
                if key not in found:
                    payload = json.loads(fields[b"p"])
                    found[key] = Entry(entry_id.decode(), payload["e"], payload["d"], payload["c"])
        if len(found) > limit:
            raise Reset()
        return [found[key] for key in sorted(found)]


_lost = threading.Event()
_retry_lock = threading.Lock()
_retrying = False


def mark_lost() -> None:
    """Events of this process reached neither the log nor the sockets: move the epoch
    now, or from a thread of its own as soon as Redis answers."""
    _lost.set()
    if not epoch_move_if_lost():
        _retry_in_background()


def epoch_move_if_lost(log: RedisLog | None = None) -> bool:
    """Move the epoch if this process lost events since it last did; False when Redis
    does not answer (the loss stays noted)."""
    if not _lost.is_set():
        return True
    _lost.clear()
    try:
        (log or get_log()).move_epoch()
    except Exception:
        _lost.set()
        return False
    return True


def _retry_in_background() -> None:
    global _retrying
    with _retry_lock:
        if _retrying:
            return
        _retrying = True

    def run() -> None:
        global _retrying
        try:
            while not epoch_move_if_lost():
                time.sleep(EPOCH_RETRY_SECONDS)
        finally:
            with _retry_lock:
                _retrying = False
            if _lost.is_set():  # lost again while the thread was ending
                _retry_in_background()

    threading.Thread(target=run, name="replay-epoch", daemon=True).start()


_redis_logs: dict[str, RedisLog] = {}
_redis_lock = threading.Lock()


def get_log() -> RedisLog:
    """The log in the Redis of settings.REDIS_URL."""
    url = settings.REDIS_URL
    with _redis_lock:
        if url not in _redis_logs:
            _redis_logs[url] = RedisLog(url)
        return _redis_logs[url]


def cursor_now() -> str:
    """The cursor of "now": a page rendered over HTTP hands it to its socket, whose
    first catch-up then brings what happened between the render and the connect."""
    return get_log().cursor_now()
