"""The inbox websocket. Thin: it joins the user's groups, relays events, and hands the
client's requests (catch-up, typing, presence) to selectors and services.

Server -> client frames: {"id": cursor, "event": name, "data": {...}}.
Client -> server: {"action": "catch_up", "since": cursor|null},
{"action": "typing", "conversation_id": N}, {"action": "presence", "status": "online"|"away"}.

Until the client's first catch_up (or CATCH_UP_WAIT seconds), live events are held, so
that replayed events come before them and ids do not go backwards.
"""

from __future__ import annotations

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import PermissionDenied

from . import groups as group_names
from . import presence, replay, selectors, services

CATCH_UP_WAIT = 3.0
_TEXT = "_frame_text"  # the encoded frame, kept on a layer message shared by sockets
PENDING_MAX = 1000


@database_sync_to_async
def groups_for(user) -> list[str]:
    from apps.accounts import access

    if not access.is_member(user):
        return []
    names = [group_names.user(user.id), group_names.org_members(user.organization_id)]
    if user.is_supervisor_or_admin:
        names.append(group_names.org_supervisors(user.organization_id))
    else:
        names += [group_names.team(team_id) for team_id in access.team_ids(user)]
        names += [group_names.number(number_id) for number_id in access.team_number_ids(user)]
    return names


def _key(frame: dict):
    try:
        return replay.parse_id(frame["id"])
    except ValueError:
        return (0, 0)


class InboxConsumer(AsyncJsonWebsocketConsumer):
    async def dispatch(self, message):
        """As Channels' dispatch, without its `aclose_old_connections()` before every
        handler: that is a hop to the one sync thread per event per socket, which
        queued every relayed event behind the other sockets' database work (measured
        with 200 sockets: seconds at p95). Every database access of this consumer goes
        through `database_sync_to_async`, which closes old connections around each call."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        self.user = self.scope.get("user")
        self.groups_joined = await groups_for(self.user) if self.user is not None else []
        if not self.groups_joined:
            await self.close(code=4401)
            return
        self.live = False
        self.pending: list[dict] = []
        self.replayed: set[str] = set()
        self.cursor: str | None = None
        self.background: set[asyncio.Task] = set()
        for name in self.groups_joined:
            await self.channel_layer.group_add(name, self.channel_name)
        await self.accept()
        self.wait_handle = asyncio.get_running_loop().call_later(CATCH_UP_WAIT, self._wait_over)
        await database_sync_to_async(presence.presence_connect)(user_id=self.user.id, channel=self.channel_name)
        self.heartbeat = asyncio.create_task(self._heartbeat())

    async def disconnect(self, code):
        if not getattr(self, "groups_joined", None):
            return
        self.wait_handle.cancel()
        self.heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.heartbeat
        for task in list(self.background):
            with contextlib.suppress(Exception):
                await task
        for name in self.groups_joined:
            await self.channel_layer.group_discard(name, self.channel_name)
        await database_sync_to_async(presence.presence_disconnect)(user_id=self.user.id, channel=self.channel_name)

    async def _heartbeat(self):
        while True:
            await asyncio.sleep(presence.heartbeat_interval())
            await database_sync_to_async(presence.presence_heartbeat)(
                user_id=self.user.id, organization_id=self.user.organization_id, channel=self.channel_name
            )

    def _wait_over(self):
        # No catch_up came: go live with what was held (an old client, or none needed).
        asyncio.ensure_future(self.channel_layer.send(self.channel_name, {"type": "inbox.go_live"}))

    async def inbox_go_live(self, message):
        await self._go_live()

    async def _go_live(self):
        if self.live:
            return
        self.live = True
        self.wait_handle.cancel()
        for frame in sorted(self.pending, key=_key):
            if frame["id"] not in self.replayed:
                await self._send(frame)
        self.pending = []

    async def _send(self, frame: dict, message: dict | None = None):
        if frame["id"] is not None:
            self.cursor = frame["id"]
        if message is None:
            await self.send_json(frame)
            return
        # The Redis layer hands one message dict to every socket of this process it is
        # addressed to (a group event): the frame is the same for each, so it is
        # encoded once and the text kept on the message.
        text = message.get(_TEXT)
        if text is None:
            text = message[_TEXT] = await self.encode_json(frame)
        await self.send(text_data=text)

    # --- events from the channel layer ---------------------------------------------
    async def inbox_event(self, message):
        frame = {"id": message.get("id"), "event": message["event"], "data": message["data"]}
        if frame["event"] == "user.availability" and frame["data"].get("user_id") == self.user.id:
            await database_sync_to_async(presence.presence_refresh)(user_id=self.user.id)
        if not self.live:
            self.pending.append(frame)
            if len(self.pending) >= PENDING_MAX:
                await self._go_live()
            return
        if frame["id"] in self.replayed:
            return
        await self._send(frame, message)

    # --- requests from the client ----------------------------------------------------
    async def receive_json(self, content, **kwargs):
        action = content.get("action") if isinstance(content, dict) else None
        handler = {"catch_up": self._catch_up, "typing": self._typing, "presence": self._presence}.get(action)
        if handler is None:
            await self._error("action", "Unknown action; expected catch_up, typing or presence.")
            return
        await handler(content)

    async def _error(self, field: str, detail: str):
        await self.send_json({"id": self.cursor, "event": "error", "data": {"field": field, "detail": detail}})

    async def _catch_up(self, content):
        since = content.get("since")
        if since in (None, ""):
            cursor = self.cursor or await database_sync_to_async(replay.cursor_now)()
        else:
            try:
                entries = await database_sync_to_async(selectors.catch_up_events)(
                    user=self.user, groups=self.groups_joined, since=str(since)
                )
            except replay.Reset:
                self.replayed = set()
                cursor = await database_sync_to_async(replay.cursor_now)()
                await self.send_json({"id": cursor, "event": "catch_up.reset", "data": {"cursor": cursor}})
                self.cursor = cursor
                await self._go_live()
                return
            self.replayed = {entry.id for entry in entries}
            for entry in entries:
                await self._send({"id": entry.id, "event": entry.event, "data": entry.data})
            cursor = self.cursor or str(since)
        await self._go_live()
        cursor = self.cursor or cursor
        await self.send_json({"id": cursor, "event": "catch_up.done", "data": {"cursor": cursor}})

    async def _typing(self, content):
        conversation_id = content.get("conversation_id")
        if not isinstance(conversation_id, int) or isinstance(conversation_id, bool):
            await self._error("conversation_id", "conversation_id must be a conversation's id (an integer).")
            return
        try:
            published = await database_sync_to_async(services.typing_notify)(
                user=self.user, conversation_id=conversation_id
            )
        except PermissionDenied:
            await self._error("conversation_id", "You may not see this conversation.")
            return
        if published:
            # Meta's indicator is an HTTP call (or a queued task): never wait for it here.
            task = asyncio.ensure_future(
                database_sync_to_async(services.typing_meta_send)(
                    user=self.user, conversation_id=conversation_id
                )
            )
            self.background.add(task)
            task.add_done_callback(self.background.discard)

    async def _presence(self, content):
        try:
            await database_sync_to_async(presence.presence_set)(
                user_id=self.user.id, channel=self.channel_name, status=content.get("status")
            )
        except ValueError as error:
            await self._error("status", str(error))
