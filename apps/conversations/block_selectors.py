"""Reads of customers' blocks (a customer blocked on a number), for conversations the
caller may see (read first through `selectors.conversation_get`)."""

from __future__ import annotations

from .models import ContactBlock, Conversation


def conversation_block(*, conversation: Conversation) -> ContactBlock | None:
    """The block of the conversation's customer on its number, or None."""
    return (
        ContactBlock.objects.filter(
            contact_id=conversation.contact_id, number_id=conversation.number_id
        )
        .select_related("blocked_by")
        .first()
    )


def conversation_blocked_since(*, conversation: Conversation):
    """When the conversation's customer was blocked on its number, or None: read with
    the conversation by `selectors.conversation_get`, else here (one query)."""
    if "blocked_since" in conversation.__dict__:
        return conversation.blocked_since
    block = conversation_block(conversation=conversation)
    return block.created_at if block else None
