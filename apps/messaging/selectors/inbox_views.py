"""The inbox list's counts per view and its other orders, beside the selectors of
the list itself (search.conversation_inbox_page, newest first, keyset-paged).

Both are scoped by the user through the same access rule as the list."""

from __future__ import annotations

from django.db.models import BigIntegerField, Count, F, Q, Value

from apps.accounts import access
from apps.conversations.models import Conversation
from apps.conversations.selectors import (
    INBOX_PAGE_SIZE,
    ConversationPage,
    InboxFilter,
    InvalidCursor,
    inbox_narrowed,
    mentions_unread,
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
ZERO = Value(0, output_field=BigIntegerField())
MAX_OFFSET = 10_000


class InvalidOffset(InvalidCursor):
    pass


def inbox_view_counts(*, user, filters: InboxFilter) -> dict[str, int]:
    """How many conversations "mine", "unassigned" and "all" hold under the view's
    status, number and label (search aside), and how many mentions of the user are
    unread ("unread_mentions", whatever the view): one statement, whatever the numbers.

    Each part is counted from the index of its own rule (COUNT(*) over the columns the
    indexes carry, so PostgreSQL can answer from the index alone): a supervisor's whole
    organisation once; an agent's own and their teams' unassigned conversations apart,
    which are all they see ("all" is their sum: the two never overlap)."""

    def narrowed(rule: Q):
        return inbox_narrowed(Conversation.objects.filter(rule).order_by(), filters)

    def part(queryset, name: str, **counts):
        # Every part's row has the same columns: (part, n, mine, unassigned).
        counts = {"n": Count("*"), "mine": ZERO, "unassigned": ZERO, **counts}
        return queryset.annotate(part=Value(name)).values("part").annotate(**counts)

    if not access.is_member(user):
        return {"all": 0, "mine": 0, "unassigned": 0, "unread_mentions": 0}
    mentions = part(mentions_unread(user=user).order_by(), "mentions")
    if user.is_supervisor_or_admin:
        # COUNT(*) cannot take a filter: the parts count a column the index holds
        # and that is never null (status).
        parts = [part(narrowed(access.conversation_filter(user)), "all",
                      mine=Count("status", filter=Q(assignee_id=user.id)),
                      unassigned=Count("status", filter=Q(assignee__isnull=True)))]
    else:
        parts = [part(narrowed(access.conversation_filter(user, assignee="me")), "mine"),
                 part(narrowed(access.conversation_filter(user, assignee="none", subqueries=True)), "unassigned")]
    # Each part is an aggregate without GROUP BY (one row); a part whose rule matches
    # nothing by construction (an agent of no team) is left out of the UNION by Django.
    none = {"n": 0, "mine": 0, "unassigned": 0}
    rows = {row["part"]: row for row in parts[0].union(*parts[1:], mentions, all=True)}
    unread_mentions = rows.get("mentions", none)["n"]
    if user.is_supervisor_or_admin:
        counted = rows.get("all", none)
        return {"all": counted["n"], "mine": counted["mine"], "unassigned": counted["unassigned"],
                "unread_mentions": unread_mentions}
    mine, unassigned = rows.get("mine", none)["n"], rows.get("unassigned", none)["n"]
    return {"all": mine + unassigned, "mine": mine, "unassigned": unassigned, "unread_mentions": unread_mentions}


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
