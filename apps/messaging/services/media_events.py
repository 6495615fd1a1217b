"""The live side of a message's file: when the media app reports that a file changed
state, the message is announced again, with that file, to those who may see it."""

from __future__ import annotations

from apps.realtime import groups
from apps.realtime.publish import publish

from ..serializers import message_event_data


def media_changed_received(sender, *, media, **signal) -> None:
    """apps.media.signals.media_changed: publish message.updated with the file's state."""
    message = media.message
    if message is None:
        return
    publish("message.updated", message_event_data(message, media=media),
            groups=groups.conversation_groups(message.conversation))
