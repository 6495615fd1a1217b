"""Agent presence: online, away or offline, from the user's open sockets.

Each socket is an entry with an expiry, refreshed by its consumer's heartbeat, so a
killed process cannot leave a user "online" for much more than REALTIME_PRESENCE_TTL
seconds: a colleague's socket heartbeat sweeps the organisation (at most every
SWEEP_EVERY seconds) and announces the user offline. The status of a user:

- offline: no live socket;
- away: the agent's availability is "away", or every live socket said "away";
- online: otherwise.

A `presence` event goes to the organisation's members group when the status changes
(the last announced status is kept, so repeated refreshes announce nothing).
Redis holds the state.
"""

from __future__ import annotations

import time

from django.conf import settings

from apps.realtime import groups as group_names
from apps.realtime.publish import publish_now

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
CLIENT_STATUSES = (ONLINE, AWAY)
PREFIX = "inbox:rt:presence:"
# How often, at most, one organisation's expired sockets are looked for (see
# presence_heartbeat): a killed process's user is announced offline at most TTL +
# SWEEP_EVERY seconds after its last heartbeat, given one live colleague.
SWEEP_EVERY = 5.0


def ttl() -> int:
    return settings.REALTIME_PRESENCE_TTL


def heartbeat_interval() -> float:
    return max(ttl() / 3, 1)


class RedisStore:
    def __init__(self, url: str):
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, decode_responses=True)

    def clear(self) -> None:
        keys = list(self.redis.scan_iter(match=PREFIX + "*", count=1000))
        if keys:
            self.redis.delete(*keys)

    def touch(self, user_id: int, channel: str, status: str | None = None) -> None:
        key = f"{PREFIX}sockets:{user_id}"
        pipe = self.redis.pipeline()
        pipe.zadd(key, {channel: time.time() + ttl()})
        if status:
            pipe.hset(f"{PREFIX}status:{user_id}", channel, status)
        pipe.expire(key, ttl() * 2)
        pipe.expire(f"{PREFIX}status:{user_id}", ttl() * 2)
        pipe.execute()

    def remove(self, user_id: int, channel: str) -> None:
        pipe = self.redis.pipeline()
        pipe.zrem(f"{PREFIX}sockets:{user_id}", channel)
        pipe.hdel(f"{PREFIX}status:{user_id}", channel)
        pipe.execute()

    def socket_statuses(self, user_ids) -> dict[int, list[str]]:
        user_ids = list(user_ids)
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        for uid in user_ids:
            pipe.zrangebyscore(f"{PREFIX}sockets:{uid}", now, "+inf")
            pipe.hgetall(f"{PREFIX}status:{uid}")
        replies = pipe.execute()
        return {
            uid: [statuses.get(channel, ONLINE) for channel in live]
            for uid, live, statuses in zip(user_ids, replies[0::2], replies[1::2])
        }

    def swap_announced(self, user_id: int, organization_id: int, status: str) -> str | None:
        pipe = self.redis.pipeline()
        pipe.getset(f"{PREFIX}announced:{user_id}", status)
        if status == OFFLINE:
            pipe.srem(f"{PREFIX}org:{organization_id}", user_id)
        else:
            pipe.sadd(f"{PREFIX}org:{organization_id}", user_id)
        return pipe.execute()[0]

    def announced_users(self, organization_id: int) -> set[int]:
        return {int(uid) for uid in self.redis.smembers(f"{PREFIX}org:{organization_id}")}

    def claim_sweep(self, organization_id: int, every: float) -> bool:
        return bool(self.redis.set(f"{PREFIX}sweep:{organization_id}", "1", nx=True, px=max(1, int(every * 1000))))


_redis_stores: dict[str, RedisStore] = {}


def get_store() -> RedisStore:
    url = settings.REDIS_URL
    if url not in _redis_stores:
        _redis_stores[url] = RedisStore(url)
    return _redis_stores[url]


def _status(availability: str, socket_statuses: list[str]) -> str:
    if not socket_statuses:
        return OFFLINE
    if availability == AWAY or all(status == AWAY for status in socket_statuses):
        return AWAY
    return ONLINE


def presence_for_organization(organization_id: int) -> dict[int, str]:
    """The current status of every active user of the organisation, for the page's
    first render (the `presence` events keep it current afterwards)."""
    from apps.accounts.models import User

    users = dict(
        User.objects.filter(organization_id=organization_id, is_active=True).values_list("id", "availability")
    )
    statuses = get_store().socket_statuses(users)
    return {uid: _status(users[uid], statuses[uid]) for uid in users}


def presence_refresh(*, user_id: int) -> str:
    """Work out the user's status and announce it to the organisation if it changed."""
    from apps.accounts.models import User

    user = User.objects.filter(pk=user_id).only("id", "organization_id", "availability", "username",
                                                "display_name", "first_name", "last_name").first()
    if user is None or user.organization_id is None:
        return OFFLINE
    store = get_store()
    status = _status(user.availability, store.socket_statuses([user_id])[user_id])
    if store.swap_announced(user_id, user.organization_id, status) != status:
        publish_now(
            "presence",
            {"user_id": user_id, "name": user.name, "status": status},
            groups=[group_names.org_members(user.organization_id)],
        )
    return status


def sockets_open(*, user_id: int) -> int:
    """How many live sockets the user has (their entries expire with the heartbeat)."""
    return len(get_store().socket_statuses([user_id]).get(user_id, []))


def presence_connect(*, user_id: int, channel: str) -> str:
    get_store().touch(user_id, channel, ONLINE)
    return presence_refresh(user_id=user_id)


def presence_disconnect(*, user_id: int, channel: str) -> str:
    get_store().remove(user_id, channel)
    return presence_refresh(user_id=user_id)


def presence_set(*, user_id: int, channel: str, status: str) -> str:
    """The client says its agent is online or away (an idle tab, a chosen status)."""
    if status not in CLIENT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(CLIENT_STATUSES)}")
    get_store().touch(user_id, channel, status)
    return presence_refresh(user_id=user_id)


def presence_heartbeat(*, user_id: int, organization_id: int, channel: str) -> list[int]:
    """Keep this socket alive and announce offline the colleagues whose sockets all
    expired (their process died without a disconnect). Returns those users.

    The sweep reads every announced user of the organisation, so it runs at most once
    per SWEEP_EVERY seconds per organisation (whichever socket's heartbeat comes first,
    on any process): with every socket sweeping, 200 sockets cost 200 x 200 reads per
    heartbeat interval."""
    store = get_store()
    store.touch(user_id, channel)
    if not store.claim_sweep(organization_id, SWEEP_EVERY):
        return []
    gone = [uid for uid, live in store.socket_statuses(store.announced_users(organization_id)).items() if not live]
    for uid in gone:
        presence_refresh(user_id=uid)
    return gone
