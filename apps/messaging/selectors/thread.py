"""The thread: a conversation's messages, keyset-paginated on (timestamp, id), with
its private notes; one message for the thread's partial. The conversation always
comes from apps.conversations.selectors.conversation_get (already scoped to the user)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.http import Http404
from django.utils.dateparse import parse_datetime

from apps.accounts import access
from apps.conversations.models import Conversation, Note
from apps.conversations.selectors import InvalidCursor

from ..models import Direction, Message, MessageType, Status

__all__ = ["InvalidCursor"]


def cursor_encode(message: Message) -> str:
    raw = f"{message.timestamp.isoformat()}|{message.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        when_text, pk_text = raw.split("|")
        when = parse_datetime(when_text)
        pk = int(pk_text)
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidCursor(cursor) from None
    if when is None or when.tzinfo is None or pk < 1:
        raise InvalidCursor(cursor)
    return when, pk


@dataclass
class MessagePage:
    messages: list[Message]  # oldest first, ready to display
    before: str | None  # cursor of older messages, None when there are none
    after: str | None  # cursor of newer messages, None when there are none


def message_page(*, conversation: Conversation, before: str | None = None, after: str | None = None,
                 limit: int = 50) -> MessagePage:
    """A page of the conversation's messages, oldest first.

    With no cursor: the newest `limit`. `before`: the `limit` messages just older
    than that cursor; `after`: the `limit` just newer. The conversation must come
    from `conversation_get` (already scoped to the user).
    """
    base = (
        Message.objects.filter(conversation=conversation)
        .select_related("author")
        .prefetch_related("reactions")
    )
    if after:
        when, pk = cursor_decode(after)
        newer = Q(timestamp__gt=when) | Q(timestamp=when, id__gt=pk)
        rows = list(base.filter(newer).order_by("timestamp", "id")[: limit + 1])
        more_newer = len(rows) > limit
        rows = rows[:limit]
        more_older = True
    else:
        queryset = base
        if before:
            when, pk = cursor_decode(before)
            queryset = queryset.filter(Q(timestamp__lt=when) | Q(timestamp=when, id__lt=pk))
        rows = list(queryset.order_by("-timestamp", "-id")[: limit + 1])
        more_older = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        more_newer = bool(before)
    return MessagePage(
        messages=rows,
        before=cursor_encode(rows[0]) if rows and more_older else None,
        after=cursor_encode(rows[-1]) if rows and more_newer else None,
    )


@dataclass
class ThreadItem:
    kind: str  # "message" or "note"
    at: datetime
    obj: object


@dataclass
class ThreadPage:
    items: list[ThreadItem]  # oldest first: messages and private notes interleaved
    before: str | None  # cursor of older messages, None when there are none


# The business's reactions are shown under the message they react to (their Reaction
# rows); their own messages, which carry them to WhatsApp, only when they failed.
THREAD_HIDDEN = Q(type=MessageType.REACTION, direction=Direction.OUTBOUND) & ~Q(status=Status.FAILED)


def thread_messages(*, conversation: Conversation) -> QuerySet[Message]:
    """Messages with their author, media and reactions; the quoted messages of replies
    are attached by `_attach_quoted` (most are on the same page)."""
    return (
        Message.objects.filter(conversation=conversation).exclude(THREAD_HIDDEN)
        .select_related("author", "media")
        .prefetch_related("reactions")
    )


def _quoted_in_conversation(message: Message, quoted: Message | None) -> Message | None:
    # A reply quotes only a message of its own conversation: contexts stored before
    # inbound replies were scoped may point into another one (whose agents, or
    # organisation, differ), and are shown as a message not in this inbox.
    return quoted if quoted is not None and quoted.conversation_id == message.conversation_id else None


def _attach_quoted(rows: list[Message]) -> None:
    """Set each reply's `reply_to` from the page itself, and fetch (one query) only the
    quoted messages that are not on it, of the rows' conversations only. Joining the
    quoted message and its media to every row doubled the columns Django compiles and
    builds for each page."""
    by_id = {m.pk: m for m in rows}
    missing = {m.reply_to_id for m in rows if m.reply_to_id is not None and m.reply_to_id not in by_id}
    if missing:
        conversation_ids = {m.conversation_id for m in rows}
        by_id.update(
            (m.pk, m)
            for m in Message.objects.filter(pk__in=missing, conversation_id__in=conversation_ids).select_related("media")
        )
    cache = Message._meta.get_field("reply_to")
    for m in rows:
        if m.reply_to_id is not None:
            cache.set_cached_value(m, _quoted_in_conversation(m, by_id.get(m.reply_to_id)))


def thread_page(*, conversation: Conversation, before: str | None = None, limit: int = 50) -> ThreadPage:
    """The newest `limit` messages (or those just older than `before`) with the notes
    written in the same span of time: three queries (messages, reactions, notes), and a
    fourth when a reply quotes a message older than the page."""
    queryset = thread_messages(conversation=conversation)
    upper = None
    if before:
        upper, pk = cursor_decode(before)
        queryset = queryset.filter(Q(timestamp__lt=upper) | Q(timestamp=upper, id__lt=pk))
    rows = list(queryset.order_by("-timestamp", "-id")[: limit + 1])
    _attach_quoted(rows)
    more_older = len(rows) > limit
    rows = list(reversed(rows[:limit]))
    notes = Note.objects.filter(conversation=conversation).select_related("author", "conversation__organization")
    if more_older and rows:
        notes = notes.filter(created_at__gte=rows[0].timestamp)
    if upper is not None:
        notes = notes.filter(created_at__lt=upper)
    items = [ThreadItem("message", m.timestamp, m) for m in rows]
    items += [ThreadItem("note", n.created_at, n) for n in notes.order_by("created_at", "id")]
    items.sort(key=lambda item: item.at)
    return ThreadPage(items=items, before=cursor_encode(rows[0]) if rows and more_older else None)


def thread_message_get(*, user, message_id) -> Message:
    """One message for the thread partial, if `user` may see its conversation; Http404
    otherwise. `thread_hidden` tells whether the thread leaves it out (THREAD_HIDDEN)."""
    try:
        message = (
            Message.objects.filter(access.conversation_filter(user, prefix="conversation__"))
            .annotate(thread_hidden=ExpressionWrapper(THREAD_HIDDEN, output_field=BooleanField()))
            .select_related("author", "media", "reply_to", "reply_to__media", "conversation__organization")
            .prefetch_related("reactions")
            .get(pk=int(message_id))
        )
    except (Message.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if message.reply_to_id is not None:
        Message._meta.get_field("reply_to").set_cached_value(
            message, _quoted_in_conversation(message, message.reply_to)
        )
    return message


