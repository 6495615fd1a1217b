"""Read queries on contacts, conversations and their messages, scoped to the user.

Every function takes the requesting user and returns only what apps.accounts.access
lets them see. Filters take already-validated values (see api.py): no user text
reaches SQL but as a bound parameter.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.dateparse import parse_datetime

from apps.accounts import access
from apps.messaging.models import Message

from .models import CannedResponse, Contact, Conversation, Label, Note

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


def _conversations(user) -> QuerySet[Conversation]:
    return (
        Conversation.objects.filter(access.conversation_filter(user))
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
    queryset = Contact.objects.filter(access.contact_filter(user))
    q = (q or "").strip()[:SEARCH_MAX_LENGTH]
    if q:
        queryset = queryset.filter(
            Q(name__icontains=q) | Q(profile_name__icontains=q) | Q(phone__icontains=q) | Q(wa_id__icontains=q)
        )
    return queryset.order_by("name", "profile_name", "id")


def contact_get(*, user, pk) -> Contact:
    try:
        return Contact.objects.filter(access.contact_filter(user)).get(pk=int(pk))
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
