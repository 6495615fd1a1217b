"""The one writer of conversations' last activity (customer messages and the business's
own): every writer here is `conversations_record_activity` (apps/conversations/sql.py)."""

from __future__ import annotations

from ..models import Conversation
from ..sql import Activity, conversations_record_activity  # noqa: F401 (the activity's callers import them here)


def conversation_record_inbound(*, conversation: Conversation, timestamp, preview: str, count: int = 1
                                ) -> Conversation | None:
    """`conversations_record_activity` for customer messages of one conversation (a
    batch passes its newest message's time and preview and how many it stored)."""
    return conversations_record_activity(activities=[
        Activity(conversation.pk, timestamp, preview, customer_messages=count)]).get(conversation.pk)


def conversations_record_inbound_many(*, updates: list[tuple[int, object, str, int]]) -> dict[int, Conversation]:
    """`conversations_record_activity` for customer messages: `updates` holds
    (conversation id, newest message time, its preview, how many messages)."""
    return conversations_record_activity(activities=[
        Activity(pk, at, preview, customer_messages=count) for pk, at, preview, count in updates])


def conversation_record_outbound(*, conversation: Conversation, at, preview: str, answers: bool) -> None:
    """`conversations_record_activity` for a message the business sends (`answers`: an
    agent's), the new values copied onto `conversation`."""
    fresh = conversations_record_activity(activities=[
        Activity(conversation.pk, at, preview, answers=answers)]).get(conversation.pk)
    if fresh is not None:
        for field in ("last_message_at", "last_message_preview", "first_response_at", "updated_at"):
            setattr(conversation, field, getattr(fresh, field))
