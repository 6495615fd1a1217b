"""publish(): the one way a live event leaves the server.

Called from services only. The event is sent after the current transaction
commits, so a browser never hears of a row it cannot read yet, and a rolled-back
change is never announced.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from . import replay

logger = logging.getLogger(__name__)

# Tests attach a list here to see exactly which events a use-case emitted.
_listeners: list = []
_local = threading.local()


async def _group_send_all(layer, groups: list[str], message: dict) -> None:
    for group in groups:
        try:
            await layer.group_send(group, message)
        except Exception:  # a live update is best effort; the data is committed
            logger.exception("publish %s to %s failed", message.get("event"), group)


def _thread_loop() -> asyncio.AbstractEventLoop:
    """One event loop per publishing thread, kept for the thread's life.

    channels-redis keeps its connection pool per event loop; `async_to_sync` would
    make a new loop (and a new Redis connection) for every event.
    """
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    return loop


def _deliver(layer, groups: list[str], message: dict) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # called from async code (a consumer): let asgiref find its way
        async_to_sync(_group_send_all)(layer, groups, message)
        return
    if type(layer).__module__.startswith("channels_redis"):
        _thread_loop().run_until_complete(_group_send_all(layer, groups, message))
    else:
        # The in-memory layer's queues belong to the consumers' loops: send from a
        # fresh loop each time, as asgiref does.
        async_to_sync(_group_send_all)(layer, groups, message)


def _send(event_type: str, data: dict, groups: list[str]) -> None:
    for listener in list(_listeners):
        listener(event_type, data, groups)
    layer = get_channel_layer()
    if layer is None or not groups:
        return
    try:
        # The id is the client's cursor; the same call keeps the event for catch-up.
        event_id = replay.get_log().append(event_type, data, groups)
    except Exception:  # without the log the event still goes out live, without a cursor
        logger.exception("replay log append of %s failed", event_type)
        event_id = None
    _deliver(layer, groups, {"type": "inbox.event", "id": event_id, "event": event_type, "data": data})


def publish_now(event_type: str, data: dict, *, groups: Iterable[str]) -> None:
    """Send at once, for events that are not the result of a transaction (typing,
    presence). Sync code only (consumers call it through database_sync_to_async)."""
    _send(event_type, json.loads(json.dumps(data, cls=DjangoJSONEncoder)), list(dict.fromkeys(groups)))


def publish(event_type: str, data: dict, *, groups: Iterable[str]) -> None:
    """Send `event_type` with `data` (JSON-serialisable) to `groups` on commit."""
    groups = list(dict.fromkeys(groups))
    # Normalise dates and decimals now, so every consumer sees plain JSON.
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    transaction.on_commit(lambda: _send(event_type, data, groups))
