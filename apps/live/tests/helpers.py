"""Helpers of the live tests shared across modules (and with the accounts' admin tests):
a change seen from an open socket, a page away and back with its catch-up, the admin's
user and team forms. The socket helpers they build on are in conftest.py."""

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from apps.conversations.tests.factories import ConversationFactory
from apps.realtime import groups, replay
from apps.realtime.publish import publish

from .conftest import (
    conversation_frames,
    drain,
    open_socket,
    session_cookie,
    until_barrier,
)


async def closed_with(comm, timeout=5) -> int | None:
    """The close code the server sent (None when the socket stays open)."""
    if await comm.receive_nothing(timeout=timeout):
        return None
    while True:
        output = await comm.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output.get("code")


async def closed_before_barrier(comm, user) -> int | None:
    """The close code if the server closed the socket before a barrier event published
    now to `user`'s group arrived (a change's notice to the socket is published on its
    commit, before the barrier), None if the barrier came first."""
    from apps.realtime import groups
    from apps.realtime.publish import publish_now

    await database_sync_to_async(publish_now)("test.barrier", {}, groups=[groups.user(user.id)])
    while True:
        output = await comm.receive_output(timeout=30)
        if output["type"] == "websocket.close":
            return output.get("code")
        if output["type"] == "websocket.send" and '"test.barrier"' in output.get("text", ""):
            return None


def after_change(user, change, publish_actions, cookie=None):
    """Open `user`'s socket, make `change` (sync), publish, and return (frames after the
    change, the socket's close code or None)."""
    cookie = cookie or session_cookie(user)

    async def scenario():
        comm, _ = await open_socket(cookie)
        await until_barrier({"me": (comm, user)})
        await database_sync_to_async(change)()
        code = await closed_before_barrier(comm, user)
        if code is not None:
            await comm.disconnect()  # as the server does after the close
            return None, code
        for action in publish_actions:
            await database_sync_to_async(action)()
        frames = (await until_barrier({"me": (comm, user)}))["me"]
        await comm.disconnect()
        return frames, None

    return async_to_sync(scenario)()


def away_and_back(user, while_away) -> tuple[str, list[dict]]:
    """Connect, receive one event (the cursor), disconnect, run `while_away`, reconnect
    with the cursor; return the cursor and the frames of the catch-up."""
    cookie = session_cookie(user)
    marker = ConversationFactory(organization=user.organization)

    async def scenario():
        comm, _ = await open_socket(cookie)
        await drain(comm)
        await database_sync_to_async(publish)("contact.updated", {"id": marker.contact_id},
                                              groups=[groups.user(user.id)])
        while (frame := await comm.receive_json_from(timeout=30))["event"] != "contact.updated":
            pass
        cursor = frame["id"]
        await comm.disconnect()
        for action in while_away:
            await database_sync_to_async(action)()
        comm, frames = await open_socket(cookie, since=cursor)  # up to catch_up.done/reset
        await comm.disconnect()
        return cursor, frames

    return async_to_sync(scenario)()


def missed(frames, cursor) -> list[tuple[str, int]]:
    """The conversation and message frames after the cursor (the margin repeats a few)."""
    key = replay.parse_id(cursor)
    return conversation_frames([f for f in frames if f["id"] and replay.parse_id(f["id"]) > key])


def user_form(user, **changes) -> dict:
    data = {
        "username": user.username, "first_name": user.first_name, "last_name": user.last_name,
        "display_name": user.display_name, "email": user.email, "organization": user.organization_id,
        "role": user.role, "availability": user.availability, "teams": [t.pk for t in user.teams.all()],
        "is_staff": "on" if user.is_staff else "",
    }
    if user.is_active:
        data["is_active"] = "on"
    data.update(changes)
    return {key: value for key, value in data.items() if value not in ("", None)}


def team_form(team, **changes) -> dict:
    data = {
        "organization": team.organization_id, "name": team.name,
        "members": [u.pk for u in team.members.all()], "numbers": [n.pk for n in team.numbers.all()],
    }
    data.update(changes)
    return data


def redis_down_for_one_publish(monkeypatch):
    """The next publish finds Redis unreachable (its log append and its delivery fail)."""
    import redis

    log = replay.get_log()
    real = log.append_many_epoch
    calls = {"n": 0}

    def append_many_epoch(events):
        calls["n"] += 1
        if calls["n"] == 1:
            raise redis.ConnectionError("Redis is restarting")
        return real(events)

    monkeypatch.setattr(log, "append_many_epoch", append_many_epoch)
