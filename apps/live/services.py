"""Use-cases the inbox websocket calls (through database_sync_to_async)."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.core.exceptions import PermissionDenied

from apps.realtime import groups as group_names
from apps.realtime.publish import publish_now

logger = logging.getLogger(__name__)

# An agent's keystrokes reach colleagues at most this often per conversation.
TYPING_PUBLISH_SECONDS = 2


def typing_notify(*, user, conversation_id: int) -> int | None:
    """Tell the conversation's viewers that `user` is typing (at most every
    TYPING_PUBLISH_SECONDS). Returns the conversation's id when published, else None;
    the caller then sends Meta's indicator with `typing_meta_send`, off its own path.

    Raises PermissionDenied when the user may not see the conversation (or it does not
    exist: the two are not told apart)."""
    from apps.accounts import access
    from apps.conversations.models import Conversation

    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None or not access.can_view_conversation(user, conversation):
        raise PermissionDenied("You may not see this conversation.")
    if not cache.add(f"rt:typing:{conversation.pk}:{user.pk}", 1, timeout=TYPING_PUBLISH_SECONDS):
        return None
    publish_now(
        "typing",
        {"conversation_id": conversation.pk, "user_id": user.pk, "name": user.name, "who": "agent"},
        groups=group_names.conversation_groups(conversation),
    )
    return conversation.pk


def typing_meta_send(*, user, conversation_id: int) -> bool:
    """Meta's typing indicator for the customer (throttled by typing_indicator_send)."""
    from apps.conversations.models import Conversation
    from apps.messaging.services.send import SendError, typing_indicator_send

    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        return False
    try:
        return typing_indicator_send(conversation=conversation, user=user)
    except SendError:  # may not act on it: colleagues still saw the agent typing
        logger.info("typing indicator not sent for conversation %s", conversation.pk)
        return False
