"""The inbox list's counts per view and its other orders, beside the selectors of
the list itself (search.conversation_inbox_page, newest first, keyset-paged).

Both are scoped by the user through the same access rule as the list."""

from __future__ import annotations

from django.db.models import Count, F, Q

from apps.accounts import access
from apps.conversations.models import Conversation
from apps.conversations.selectors import (
    INBOX_PAGE_SIZE,
    ConversationPage,
    InboxFilter,
    InvalidCursor,
)

from .search import inbox_queryset

# The list's orders: "newest" is the selector's own (keyset pages); the others are
# paged by offset ("o<offset>" cursors).
INBOX_SORTS = {
    "newest": None,
    "oldest": (F("last_message_at").asc(nulls_last=True), "id"),
    # The customer who has waited longest since their last message first.
    "waiting": (F("last_customer_message_at").asc(nulls_last=True), "id"),
    "priority": ("-priority", F("last_message_at").desc(nulls_last=True), "-id"),
}
OFFSET_PREFIX = "o"
MAX_OFFSET = 10_000


class InvalidOffset(InvalidCursor):
    pass


def inbox_view_counts(*, user, filters: InboxFilter) -> dict[str, int]:
    """How many conversations "mine", "unassigned" and "all" hold under the view's
    status, number and label (search aside): one query, whatever the numbers."""
    queryset = Conversation.objects.filter(
        access.conversation_filter(user, subqueries=True)
    )
    if filters.status != "any":
        queryset = queryset.filter(status=filters.status)
    if filters.number_id is not None:
        queryset = queryset.filter(number_id=filters.number_id)
    if filters.label_id is not None:
        queryset = queryset.filter(labels__id=filters.label_id)
    return queryset.aggregate(
        all=Count("pk"),
        mine=Count("pk", filter=Q(assignee_id=user.id)),
        unassigned=Count("pk", filter=Q(assignee__isnull=True)),
    )


def offset_decode(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.startswith(OFFSET_PREFIX) or not cursor[1:].isdigit():
        raise InvalidOffset(cursor)
    offset = int(cursor[1:])
    if offset > MAX_OFFSET:
        raise InvalidOffset(cursor)
    return offset


def conversation_inbox_sorted_page(
    *,
    user,
    filters: InboxFilter,
    sort: str,
    after: str | None = None,
    limit: int = INBOX_PAGE_SIZE,
) -> ConversationPage:
    """One page of an inbox view in one of the other orders (not "newest")."""
    offset = offset_decode(after)
    queryset = inbox_queryset(user=user, filters=filters).order_by(*INBOX_SORTS[sort])
    rows = list(queryset[offset : offset + limit + 1])
    more = len(rows) > limit
    return ConversationPage(
        conversations=rows[:limit],
        after=f"{OFFSET_PREFIX}{offset + limit}" if more else None,
    )
