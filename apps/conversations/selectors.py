"""Read queries on contacts, conversations and their messages, scoped to the user.

Every function takes the requesting user and returns only what apps.accounts.access
lets them see. Filters take already-validated values (see api.py): no user text
reaches SQL but as a bound parameter.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.dateparse import parse_datetime

from apps.accounts import access
from . import access as contact_access
from apps.messaging.models import Direction, Message, MessageType, Status

from .models import CannedResponse, Contact, Conversation, Label, Note, NoteMention

# The orderings the conversation list accepts; anything else is refused.
CONVERSATION_ORDERINGS = {
    "last_message_at": ("last_message_at", "id"),
    "-last_message_at": ("-last_message_at", "-id"),
    "created_at": ("created_at", "id"),
    "-created_at": ("-created_at", "-id"),
    "priority": ("priority", "-last_message_at", "-id"),
    "-priority": ("-priority", "-last_message_at", "-id"),
}
DEFAULT_CONVERSATION_ORDERING = "-last_message_at"
SEARCH_MAX_LENGTH = 200


def _conversations(user, assignee: str | None = None) -> QuerySet[Conversation]:
    return (
        Conversation.objects.filter(access.conversation_filter(user, assignee=assignee))
        .select_related("contact", "assignee")
        .prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("name")))
    )


def conversation_list(
    *,
    user,
    statuses: list[str] | None = None,
    assignee: str | int | None = None,
    team: str | int | None = None,
    number_id: int | None = None,
    label_id: int | None = None,
    priority: int | None = None,
    q: str = "",
    ordering: str = DEFAULT_CONVERSATION_ORDERING,
) -> QuerySet[Conversation]:
    """The conversations `user` may see, filtered.

    assignee: "me", "none" or a user id; team: "none" or a team id.
    """
    queryset = _conversations(user)
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    if assignee == "me":
        queryset = queryset.filter(assignee_id=user.id)
    elif assignee == "none":
        queryset = queryset.filter(assignee__isnull=True)
    elif assignee is not None:
        queryset = queryset.filter(assignee_id=int(assignee))
    if team == "none":
        queryset = queryset.filter(team__isnull=True)
    elif team is not None:
        queryset = queryset.filter(team_id=int(team))
    if number_id is not None:
        queryset = queryset.filter(number_id=number_id)
    if label_id is not None:
        queryset = queryset.filter(labels__id=label_id)
    if priority is not None:
        queryset = queryset.filter(priority=priority)
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
    return queryset.order_by(*CONVERSATION_ORDERINGS[ordering]).distinct()


def conversation_get(*, user, pk) -> Conversation:
    """The conversation `pk` if `user` may see it; Http404 otherwise (another
    organisation's or a colleague's conversation is "not found", nothing more)."""
    try:
        return _conversations(user).get(pk=int(pk))
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


# --- Messages: keyset pagination on (timestamp, id) ----------------------------------


class InvalidCursor(ValueError):
    pass


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


def note_list(*, conversation: Conversation) -> QuerySet[Note]:
    """The notes of a conversation already scoped to the user (see conversation_get)."""
    return Note.objects.filter(conversation=conversation).select_related("author").order_by("created_at", "id")


# --- Contacts, labels, canned responses --------------------------------------------


def contact_list(*, user, q: str = "") -> QuerySet[Contact]:
    queryset = Contact.objects.filter(contact_access.contact_filter(user))
    q = (q or "").strip()[:SEARCH_MAX_LENGTH]
    if q:
        queryset = queryset.filter(
            Q(name__icontains=q) | Q(profile_name__icontains=q) | Q(phone__icontains=q) | Q(wa_id__icontains=q)
        )
    return queryset.order_by("name", "profile_name", "id")


def contact_get(*, user, pk) -> Contact:
    try:
        return Contact.objects.filter(contact_access.contact_filter(user)).get(pk=int(pk))
    except (Contact.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def label_list(*, user) -> QuerySet[Label]:
    if not access.is_member(user):
        return Label.objects.none()
    return Label.objects.filter(organization_id=user.organization_id).order_by("name")


def label_ids_of_organization(*, user, ids) -> list[int]:
    return list(label_list(user=user).filter(pk__in=ids).values_list("pk", flat=True))


def canned_response_list(*, user, q: str = "") -> QuerySet[CannedResponse]:
    if not access.is_member(user):
        return CannedResponse.objects.none()
    queryset = CannedResponse.objects.filter(organization_id=user.organization_id)
    q = (q or "").strip()[:SEARCH_MAX_LENGTH]
    if q:
        queryset = queryset.filter(Q(shortcut__icontains=q) | Q(body__icontains=q))
    return queryset.order_by("shortcut")


# --- The browser inbox: the conversation list and the thread -----------------------
#
# The list is keyset-paginated on (last_message_at DESC NULLS LAST, id DESC), never
# OFFSET, so page 200 costs what page 1 costs. Search is one query path on every
# backend: case-insensitive containment (UPPER(col) LIKE UPPER('%q%')); on PostgreSQL
# the trigram GIN indexes of migration 0002 serve exactly that expression.

INBOX_VIEWS = ("mine", "unassigned", "all", "mentions")
INBOX_STATUSES = ("open", "pending", "snoozed", "resolved", "any")
STATUS_ALIASES = {"all": "any"}
INBOX_PAGE_SIZE = 30


@dataclass
class InboxFilter:
    """An inbox view. `status` empty (not chosen): open conversations, and every
    status when searching (a match must not hide behind the default filter); a chosen
    status is kept, search or not (`status_chosen` says which)."""

    view: str = "all"
    status: str | None = None
    number_id: int | None = None
    label_id: int | None = None
    q: str = ""
    status_chosen: bool = field(init=False, default=False)

    def __post_init__(self):
        if self.view not in INBOX_VIEWS:
            raise ValueError("view")
        self.q = (self.q or "").strip()[:SEARCH_MAX_LENGTH]
        self.status_chosen = bool(self.status)
        status = STATUS_ALIASES.get(self.status, self.status) if self.status else ("any" if self.q else "open")
        if status not in INBOX_STATUSES:
            raise ValueError("status")
        self.status = status


@dataclass
class ConversationPage:
    conversations: list[Conversation]
    after: str | None  # cursor of the next (older) page, None at the end


def conversation_cursor_encode(conversation: Conversation) -> str:
    when = conversation.last_message_at.isoformat() if conversation.last_message_at else ""
    raw = f"{when}|{conversation.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def conversation_cursor_decode(cursor: str) -> tuple[datetime | None, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        when_text, pk_text = raw.split("|")
        when = parse_datetime(when_text) if when_text else None
        pk = int(pk_text)
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidCursor(cursor) from None
    if (when_text and (when is None or when.tzinfo is None)) or pk < 1:
        raise InvalidCursor(cursor)
    return when, pk


def _matching_contact_ids(*, user, q: str) -> QuerySet:
    """Ids of the organisation's contacts matching `q`: a UNION of one query per
    column, so that PostgreSQL serves each from its trigram index (an OR across the
    columns was planned as a scan of every contact)."""
    from .models import Contact as ContactModel

    contacts = ContactModel.objects.filter(organization_id=user.organization_id)
    # A term without letters (a number, part of one) matches the same rows with or
    # without case folding: the phone and WhatsApp id are then compared as they are,
    # served by their plain trigram indexes (conversations/0006), not through UPPER().
    number_lookup = "icontains" if any(ch.isalpha() for ch in q) else "contains"
    lookups = {"name": "icontains", "profile_name": "icontains", "phone": number_lookup, "wa_id": number_lookup}
    parts = [contacts.filter(**{f"{column}__{lookup}": q}).values("id") for column, lookup in lookups.items()]
    return parts[0].union(*parts[1:])


def _search_filter(*, user, q: str) -> Q:
    messages = Message.objects.filter(organization_id=user.organization_id, text__icontains=q)
    return Q(contact_id__in=_matching_contact_ids(user=user, q=q)) | Q(pk__in=messages.values("conversation_id"))


def _inbox_filtered(*, user, filters: InboxFilter) -> QuerySet[Conversation]:
    """The conversations of one inbox view before search, newest activity first.

    "mine" and "unassigned" take the access rule of that part alone (see
    access.conversation_filter), so each is an ordered index scan that stops after a
    page: (assignee, status, ...) for mine, (organization, status, ...) filtered for
    unassigned."""
    queryset = _conversations(user, assignee={"mine": "me", "unassigned": "none"}.get(filters.view))
    if filters.view == "mentions":
        # From the user's few mentions to their conversations (a semi-join), each row
        # marked when a mention in it is still unread.
        mentions = NoteMention.objects.filter(user=user)
        queryset = queryset.filter(pk__in=mentions.values("note__conversation_id")).annotate(
            unread_mention=Exists(mentions.filter(read_at__isnull=True, note__conversation_id=OuterRef("pk"))))
    if filters.status != "any":
        queryset = queryset.filter(status=filters.status)
    if filters.number_id is not None:
        queryset = queryset.filter(number_id=filters.number_id)
    if filters.label_id is not None:
        queryset = queryset.filter(labels__id=filters.label_id)
    return queryset.order_by(F("last_message_at").desc(nulls_last=True), "-id")


def inbox_queryset(*, user, filters: InboxFilter) -> QuerySet[Conversation]:
    """The conversations of one inbox view, newest activity first (not yet paginated)."""
    queryset = _inbox_filtered(user=user, filters=filters)
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
    by_contact = ids.filter(contact_id__in=_matching_contact_ids(user=user, q=q))[:size]
    by_message = ids.filter(Exists(Message.objects.filter(conversation_id=OuterRef("pk"), text__icontains=q)))[:size]
    return Q(pk__in=by_contact) | Q(pk__in=by_message)


def conversation_inbox_page(*, user, filters: InboxFilter, after: str | None = None,
                            limit: int = INBOX_PAGE_SIZE) -> ConversationPage:
    """One page of an inbox view: two queries (conversations with contact and
    assignee; their labels), plus what access.conversation_filter needs."""
    queryset = _inbox_filtered(user=user, filters=filters)
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


def note_get(*, user, note_id) -> Note:
    try:
        return (
            Note.objects.filter(access.conversation_filter(user, prefix="conversation__"))
            .select_related("author", "conversation__organization")
            .get(pk=int(note_id))
        )
    except (Note.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def mention_unread_count(*, user) -> int:
    """How many notes mention `user` unread, in conversations they may see now."""
    visible = access.conversation_filter(user, prefix="note__conversation__", subqueries=True)
    return NoteMention.objects.filter(visible, user=user, read_at__isnull=True).count()


def inbox_sidebar(*, user) -> dict:
    """The numbers and labels the inbox's navigation offers to `user` (two queries)."""
    from apps.whatsapp.models import WhatsAppNumber

    if not access.is_member(user):
        return {"numbers": [], "labels": []}
    numbers = WhatsAppNumber.objects.filter(organization_id=user.organization_id).order_by("pk")
    if not user.is_supervisor_or_admin:
        numbers = numbers.filter(
            Q(teams__members=user) | Q(pk__in=Conversation.objects.filter(assignee_id=user.id).values("number_id"))
        ).distinct()
    return {"numbers": list(numbers), "labels": list(label_list(user=user))}
