"""The inbox websocket. Thin: it joins the user's groups, relays events, and hands the
client's requests (catch-up, typing, presence) to selectors and services.

Server -> client frames: {"id": cursor, "event": name, "data": {...}}.
Client -> server: {"action": "catch_up", "since": cursor|null},
{"action": "typing", "conversation_id": N}, {"action": "presence", "status": "online"|"away"}.

Until the client's first catch_up (or CATCH_UP_WAIT seconds), live events are held, so
that replayed events come before them and ids do not go backwards.

Rights are those of now, not of the connect: the socket recomputes its groups (or
closes) when told that its user's role, teams, active state, password or session
changed (accounts.services.user_access_changed, on the user's own group), every
REALTIME_RIGHTS_CHECK_SECONDS for changes made elsewhere, and before each client action.
Client frames are rate-limited per socket (WS_MAX_FRAMES_PER_SECOND, WS_FRAMES_BURST).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref

from channels.db import database_sync_to_async
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from apps.realtime import replay

from . import epoch as epochs
from . import presence, selectors, services

logger = logging.getLogger(__name__)

CATCH_UP_WAIT = 3.0
_TEXT = "_frame_text"  # the encoded frame, kept on a layer message shared by sockets
PENDING_MAX = 1000
# Close codes. live.js does not reconnect after 4401 or 4403 (a reconnect cannot help).
CLOSE_SIGNED_OUT = 4401  # not signed in, or no longer: logged out, deactivated, session ended
CLOSE_RECONNECT = 4001  # the credentials changed: a reconnect is authenticated afresh
CLOSE_FLOODING = 4429  # kept sending frames over the rate after being told
CLOSE_TOO_MANY_SOCKETS = 4430  # the user has WS_MAX_SOCKETS_PER_USER sockets open already


_CLOSE_CODES = {selectors.SIGNED_OUT: CLOSE_SIGNED_OUT, selectors.RECONNECT: CLOSE_RECONNECT}


class RightsWatch:
    """The periodic rights check of all the sockets of this process (of one event
    loop): every REALTIME_RIGHTS_CHECK_SECONDS, the rights of every open socket are
    read at once (selectors.sockets_rights, a fixed number of queries however many
    sockets) and each socket applies its own. Changes made outside accounts.services
    (a shell, SQL, an admin form that does not call them) reach the sockets here;
    those made through the services reach them at once (inbox.rights).

    (Each socket used to check on its own, one user, session and teams read per socket
    every few seconds: with 200 sockets that was 40 checks a second, a third of the
    ASGI process's CPU per relayed event.)"""

    def __init__(self):
        self.sockets: set[InboxConsumer] = set()
        self.task: asyncio.Task | None = None

    def add(self, consumer: InboxConsumer) -> None:
        self.sockets.add(consumer)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, consumer: InboxConsumer) -> None:
        self.sockets.discard(consumer)
        if not self.sockets and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _run(self) -> None:
        while self.sockets:
            await asyncio.sleep(settings.REALTIME_RIGHTS_CHECK_SECONDS)
            await self.check()

    async def check(self) -> None:
        sockets = [consumer for consumer in self.sockets if not consumer.ending]
        if not sockets:
            return
        try:
            # Read-only, off the thread the consumers' other database work shares.
            found = await database_sync_to_async(selectors.sockets_rights, thread_sensitive=False)(
                [consumer.rights_key() for consumer in sockets])
        except Exception:  # the database away for a moment: look again next time
            logger.exception("rights check of %d sockets failed", len(sockets))
            return
        for consumer, rights in zip(sockets, found):
            try:
                await consumer.rights_apply(rights)
            except Exception:
                logger.exception("rights of a socket of user %s not applied", consumer.user.id)


_watches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def rights_watch() -> RightsWatch:
    """The RightsWatch of the running event loop."""
    loop = asyncio.get_running_loop()
    watch = _watches.get(loop)
    if watch is None:
        watch = _watches[loop] = RightsWatch()
    return watch


@database_sync_to_async
def groups_for(user) -> list[str]:
    return selectors.user_groups(user)


@database_sync_to_async
def session_of(scope) -> tuple[str | None, str | None]:
    """The key of the session the socket was opened with, and its auth hash then (the
    socket closes when the user's hash no longer matches it)."""
    from django.contrib.auth import HASH_SESSION_KEY

    session = scope.get("session")
    if session is None:
        return None, None
    return session.session_key, session.get(HASH_SESSION_KEY)


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
            await self.close(code=CLOSE_SIGNED_OUT)
            return
        if await database_sync_to_async(presence.sockets_open)(user_id=self.user.id) >= settings.WS_MAX_SOCKETS_PER_USER:
            # Every socket costs reads on connect, a share of the periodic rights check and a slot in
            # each of its groups: one user may not open them without bound.
            await self.accept()
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return
        self.session_key, self.session_hash = await session_of(self.scope)
        self.opened = True
        self.ending = False
        self.rights_lock = asyncio.Lock()
        loop = asyncio.get_running_loop()
        self.frame_tokens = float(settings.WS_FRAMES_BURST)
        self.frames_counted_at = loop.time()
        self.dropped = 0
        self.dropped_at = float("-inf")
        self.live = False
        self.pending: list[dict] = []
        self.replayed: set[str] = set()
        self.cursor: str | None = None
        self.epoch: str | None = None  # the replay epoch this socket started from (epoch.py)
        self.background: set[asyncio.Task] = set()
        for name in self.groups_joined:
            await self.channel_layer.group_add(name, self.channel_name)
        await self.accept()
        self.wait_handle = asyncio.get_running_loop().call_later(CATCH_UP_WAIT, self._wait_over)
        await database_sync_to_async(presence.presence_connect)(user_id=self.user.id, channel=self.channel_name)
        self.heartbeat = asyncio.create_task(self._heartbeat())
        rights_watch().add(self)
        await epochs.epoch_watch().add(self)

    async def disconnect(self, code):
        if not getattr(self, "opened", False):
            return
        self.opened = False
        rights_watch().discard(self)
        epochs.epoch_watch().discard(self)
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

    # --- rights of now ------------------------------------------------------------------
    def rights_key(self) -> tuple[int, str | None, str | None]:
        return self.user.id, self.session_key, self.session_hash

    async def _recheck(self, *, credentials_changed: bool = False) -> bool:
        """Reload the user and their session, join and leave groups to match what the
        user may see now, or close. True when the socket stays open."""
        async with self.rights_lock:
            if self.ending:
                return False
            # Read-only, so off the one thread the consumers' other database work shares
            # (thread_sensitive=False): relayed events never queue behind these checks.
            rights = await database_sync_to_async(selectors.socket_rights, thread_sensitive=False)(
                user_id=self.user.id, session_key=self.session_key, connected_hash=self.session_hash
            )
            return await self._rights_apply_locked(rights, credentials_changed=credentials_changed)

    async def rights_apply(self, rights: selectors.SocketRights) -> bool:
        """Rights read for this socket by the process's periodic check (RightsWatch)."""
        async with self.rights_lock:
            return await self._rights_apply_locked(rights)

    async def _rights_apply_locked(self, rights: selectors.SocketRights, *, credentials_changed: bool = False) -> bool:
        if self.ending:
            return False
        close = rights.close or (selectors.RECONNECT if credentials_changed else None)
        if close is not None:
            await self._end_locked(_CLOSE_CODES[close])
            return False
        self.user = rights.user
        joined = set(self.groups_joined)
        for name in rights.groups:
            if name not in joined:
                await self.channel_layer.group_add(name, self.channel_name)
        for name in self.groups_joined:
            if name not in rights.groups:
                await self.channel_layer.group_discard(name, self.channel_name)
        self.groups_joined = rights.groups
        return True

    async def _end(self, code: int):
        async with self.rights_lock:
            await self._end_locked(code)

    async def _end_locked(self, code: int):
        """Leave every group at once (nothing more is relayed), then close."""
        self.ending = True
        for name in self.groups_joined:
            await self.channel_layer.group_discard(name, self.channel_name)
        self.groups_joined = []
        self.pending = []
        await self.close(code=code)

    async def inbox_rights(self, message):
        await self._recheck(credentials_changed=bool(message.get("credentials_changed")))

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
        if self.ending:
            return
        frame = {"id": message.get("id"), "event": message["event"], "data": message["data"]}
        epoch = message.get("epoch")
        if epoch is not None and epoch != self.epoch and epochs.newer(epoch, self.epoch):
            # Appended after the epoch moved: events were lost since this socket started.
            await self.epoch_moved(epoch, frame["id"])
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

    async def epoch_moved(self, epoch: str | None, cursor: str | None):
        """Events were lost since this socket's epoch (apps/live/epoch.py): its page
        reloads, as after a catch-up that cannot bridge the gap."""
        self.epoch = epoch
        if self.ending:
            return
        self.replayed = set()
        await self.send_json({"id": cursor, "event": "catch_up.reset", "data": {"cursor": cursor}})
        if cursor is not None:
            self.cursor = cursor

    # --- requests from the client ----------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.ending or not await self._frame_allowed():
            return
        try:
            content = await self.decode_json(text_data) if text_data is not None else None
        except ValueError:
            content = None
        await self.receive_json(content)

    async def _frame_allowed(self) -> bool:
        """A token bucket per socket: WS_FRAMES_BURST frames at once, refilled at
        WS_MAX_FRAMES_PER_SECOND. A frame over it is dropped with an error frame; a
        socket that has a burst's worth dropped with no second's pause between drops
        is closed with CLOSE_FLOODING."""
        now = asyncio.get_running_loop().time()
        burst = float(settings.WS_FRAMES_BURST)
        refill = (now - self.frames_counted_at) * settings.WS_MAX_FRAMES_PER_SECOND
        self.frame_tokens = min(burst, self.frame_tokens + refill)
        self.frames_counted_at = now
        if self.frame_tokens >= 1:
            self.frame_tokens -= 1
            return True
        self.dropped = self.dropped + 1 if now - self.dropped_at < 1 else 1
        self.dropped_at = now
        await self._error("rate", _("Too many messages on this connection; this one was dropped."))
        if self.dropped >= burst:
            await self._end(CLOSE_FLOODING)
        return False

    async def receive_json(self, content, **kwargs):
        action = content.get("action") if isinstance(content, dict) else None
        handler = {"catch_up": self._catch_up, "typing": self._typing, "presence": self._presence}.get(action)
        if handler is None:
            await self._error("action", "Unknown action; expected catch_up, typing or presence.")
            return
        # Each action is checked against the user's rights of now.
        if not await self._recheck():
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
