"""Reads for the inbox websocket, scoped to what the user may see now."""

from __future__ import annotations

from django.conf import settings

from . import replay

# Sent even for a conversation the user no longer sees: on reassignment it goes to the
# groups that lost access, so the client drops the conversation from its list.
ALWAYS_REPLAYED = frozenset({"conversation.updated"})


def catch_up_events(*, user, groups: list[str], since: str) -> list[replay.Entry]:
    """The events of `groups` after the cursor `since` (from a little before it: see
    replay.MARGIN_MS) that `user` may see now, in id order.

    Raises replay.Reset when the gap is older than what is kept, or larger than
    REALTIME_CATCH_UP_MAX events (a reload over HTTP is then cheaper)."""
    from apps.accounts import access
    from apps.conversations.models import Conversation

    try:
        entries = replay.get_log().read(groups, since, settings.REALTIME_CATCH_UP_MAX)
    except ValueError:
        raise replay.Reset() from None
    wanted = {e.conversation_id for e in entries if e.conversation_id is not None and e.event not in ALWAYS_REPLAYED}
    visible = set()
    if wanted:
        visible = set(
            Conversation.objects.filter(access.conversation_filter(user), pk__in=wanted).values_list("pk", flat=True)
        )
    return [
        e for e in entries
        if e.conversation_id is None or e.event in ALWAYS_REPLAYED or e.conversation_id in visible
    ]
