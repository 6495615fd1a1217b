"""publish(): the one way a live event leaves the server.

Called from services only. The event is sent after the current transaction
commits, so a browser never hears of a row it cannot read yet, and a rolled-back
change is never announced.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
import json

logger = logging.getLogger(__name__)

# Tests attach a list here to see exactly which events a use-case emitted.
_listeners: list = []


def _send(event_type: str, data: dict, groups: list[str]) -> None:
    message = {"type": "inbox.event", "event": event_type, "data": data}
    for listener in list(_listeners):
        listener(event_type, data, groups)
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # a live update is best effort; the data is committed
            logger.exception("publish %s to %s failed", event_type, group)


def publish(event_type: str, data: dict, *, groups: Iterable[str]) -> None:
    """Send `event_type` with `data` (JSON-serialisable) to `groups` on commit."""
    groups = list(dict.fromkeys(groups))
    # Normalise dates and decimals now, so every consumer sees plain JSON.
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    transaction.on_commit(lambda: _send(event_type, data, groups))
