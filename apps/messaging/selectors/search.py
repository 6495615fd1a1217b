"""Search by text: the conversations whose contact or one of whose messages matches,
for the REST list and for the inbox's pages; and the inbox's page itself, whose
search reads messages (the view and its filters are
apps.conversations.selectors.InboxFilter and inbox_filtered)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from apps.conversations import selectors as conversation_selectors
from apps.conversations.models import Conversation
from apps.conversations.selectors import (
    INBOX_PAGE_SIZE,
    SEARCH_MAX_LENGTH,
    ConversationPage,
    InboxFilter,
    contact_ids_matching,
    conversation_cursor_decode,
    conversation_cursor_encode,
    inbox_filtered,
)

from ..models import Message


def conversation_list(*, user, q: str = "", **filters) -> QuerySet[Conversation]:
    """The conversations `user` may see, filtered (apps.conversations.selectors.
    conversation_list's filters) and, with `q`, those whose contact's name, profile
    name, phone or WhatsApp id, or one of whose messages, contains it."""
    queryset = conversation_selectors.conversation_list(user=user, **filters)
    q = (q or "").strip()[:SEARCH_MAX_LENGTH]
    if q:
        message_match = Message.objects.filter(conversation_id=OuterRef("pk"), text__icontains=q)
        queryset = queryset.filter(
            Q(contact__name__icontains=q)
            | Q(contact__profile_name__icontains=q)
            | Q(contact__phone__icontains=q)
            | Q(contact__wa_id__icontains=q)
            | Exists(message_match)
        )
    return queryset


def _search_filter(*, user, q: str) -> Q:
    messages = Message.objects.filter(organization_id=user.organization_id, text__icontains=q)
    return Q(contact_id__in=contact_ids_matching(user=user, q=q)) | Q(pk__in=messages.values("conversation_id"))




def inbox_queryset(*, user, filters: InboxFilter) -> QuerySet[Conversation]:
    """The conversations of one inbox view, newest activity first (not yet paginated)."""
    queryset = inbox_filtered(user=user, filters=filters)
    if filters.q:
        queryset = queryset.filter(_search_filter(user=user, q=filters.q))
    return queryset


def _search_page_filter(queryset: QuerySet[Conversation], *, user, q: str, size: int) -> Q:
    """The search of one page, bounded by it: the first `size` conversations (in the
    page's order, after its cursor) whose contact matches, and the first `size` with a
    matching message; the page is the first `size` of the two together. Each half is
    ordered and limited on its own, so PostgreSQL walks the ordering index and stops,
    or starts from the trigram index when the term is rare, whichever is cheaper."""
    ids = queryset.values("pk")
    by_contact = ids.filter(contact_id__in=contact_ids_matching(user=user, q=q))[:size]
    by_message = ids.filter(Exists(Message.objects.filter(conversation_id=OuterRef("pk"), text__icontains=q)))[:size]
    return Q(pk__in=by_contact) | Q(pk__in=by_message)


def conversation_inbox_page(*, user, filters: InboxFilter, after: str | None = None,
                            limit: int = INBOX_PAGE_SIZE) -> ConversationPage:
    """One page of an inbox view: two queries (conversations with contact and
    assignee; their labels), plus what access.conversation_filter needs."""
    queryset = inbox_filtered(user=user, filters=filters)
    if after:
        when, pk = conversation_cursor_decode(after)
        if when is None:
            queryset = queryset.filter(last_message_at__isnull=True, id__lt=pk)
        else:
            queryset = queryset.filter(
                Q(last_message_at__lt=when) | Q(last_message_at=when, id__lt=pk) | Q(last_message_at__isnull=True)
            )
    if filters.q:
        queryset = queryset.filter(_search_page_filter(queryset, user=user, q=filters.q, size=limit + 1))
    rows = list(queryset[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return ConversationPage(conversations=rows, after=conversation_cursor_encode(rows[-1]) if more else None)


def conversation_in_view(*, user, filters: InboxFilter, pk: int) -> Conversation | None:
    """The conversation `pk` if it belongs in this inbox view for `user` now, else None
    (a live update re-checks a row with this)."""
    return inbox_queryset(user=user, filters=filters).filter(pk=pk).first()
