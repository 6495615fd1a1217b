"""Read queries on contacts and conversations, scoped to the user.

Every function takes the requesting user and returns only what apps.accounts.access
lets them see. Filters take already-validated values (see api.py): no user text
reaches SQL but as a bound parameter. What reads messages too (search, the thread)
is in apps.messaging.selectors, a floor above, built on these.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404
from django.utils.dateparse import parse_datetime

from apps.accounts import access

from . import access as contact_access
from .models import CannedResponse, Contact, ContactBlock, Conversation, Label, Note, NoteMention

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
    return Conversation.objects.filter(access.conversation_filter(user, assignee=assignee)).select_related(
        "contact", "assignee")


def _label_ids() -> ArraySubquery:
    """The ids of a conversation's labels, as a column of its row."""
    return ArraySubquery(Conversation.labels.through.objects.filter(conversation_id=OuterRef("pk")).values("label_id"))


def conversation_list(
    *,
    user,
    statuses: list[str] | None = None,
    assignee: str | int | None = None,
    team: str | int | None = None,
    number_id: int | None = None,
    label_id: int | None = None,
    priority: int | None = None,
    ordering: str = DEFAULT_CONVERSATION_ORDERING,
) -> QuerySet[Conversation]:
    """The conversations `user` may see, filtered (the search by text, which reads
    messages too, is apps.messaging.selectors.search.conversation_list).

    assignee: "me", "none" or a user id; team: "none" or a team id.
    """
    queryset = _conversations(user).prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("name")))
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
    return queryset.order_by(*CONVERSATION_ORDERINGS[ordering]).distinct()


def conversation_get(*, user, pk) -> Conversation:
    """The conversation `pk` if `user` may see it, with its contact, assignee and number,
    when its customer was blocked on the number (`blocked_since`, or None) and the user's
    organisation; its labels are read when asked for, by name, as most callers do not
    show them. Http404 otherwise (another organisation's or a
    colleague's conversation is "not found", nothing more). One row by its key: the access rule's teams are
    subqueries of the statement rather than queries of their own."""
    try:
        conversation = (
            Conversation.objects.filter(access.conversation_filter(user, subqueries=True))
            .select_related("contact", "assignee", "number")
            .annotate(blocked_since=Subquery(
                ContactBlock.objects.filter(contact_id=OuterRef("contact_id"), number_id=OuterRef("number_id"))
                .values("created_at")[:1]))
            .get(pk=int(pk))
        )
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    # The user's organisation is the conversation's (the access rule): when already
    # loaded, it serves instead of a query of its own when the page reads its settings.
    organization = user._meta.get_field("organization")
    if conversation.organization_id == user.organization_id and organization.is_cached(user):
        conversation.organization = organization.get_cached_value(user)
    return conversation


class InvalidCursor(ValueError):
    """A pagination cursor that does not decode."""


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


# --- The browser inbox: the conversation list ---------------------------------------
#
# The list is keyset-paginated on (last_message_at DESC NULLS LAST, id DESC), never
# OFFSET, so page 200 costs what page 1 costs. Search is one query path on every
# backend: case-insensitive containment (UPPER(col) LIKE UPPER('%q%')); on PostgreSQL
# the trigram GIN indexes of migration 0002 serve exactly that expression. The view
# and its filters are here; the page with its search, which reads messages too, is
# apps.messaging.selectors.search.

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


def contact_ids_matching(*, user, q: str) -> QuerySet:
    """Ids of the organisation's contacts matching `q`: a UNION of one query per
    column, so that PostgreSQL serves each from its trigram index (an OR across the
    columns was planned as a scan of every contact)."""
    contacts = Contact.objects.filter(organization_id=user.organization_id)
    # A term without letters (a number, part of one) matches the same rows with or
    # without case folding: the phone and WhatsApp id are then compared as they are,
    # served by their plain trigram indexes (conversations/0006), not through UPPER().
    number_lookup = "icontains" if any(ch.isalpha() for ch in q) else "contains"
    lookups = {"name": "icontains", "profile_name": "icontains", "phone": number_lookup, "wa_id": number_lookup}
    parts = [contacts.filter(**{f"{column}__{lookup}": q}).values("id") for column, lookup in lookups.items()]
    return parts[0].union(*parts[1:])


def inbox_filtered(*, user, filters: InboxFilter) -> QuerySet[Conversation]:
    """The conversations of one inbox view before search, newest activity first, each
    with the ids of its labels (`label_ids`; the labels are the organisation's, which the
    inbox reads once, `label_list`).

    "mine" and "unassigned" take the access rule of that part alone (see
    access.conversation_filter), so each is an ordered index scan that stops after a
    page: (assignee, status, ...) for mine, (organization, status, ...) filtered for
    unassigned."""
    queryset = _conversations(user, assignee={"mine": "me", "unassigned": "none"}.get(filters.view)).annotate(
        label_ids=_label_ids())
    if filters.view == "mentions":
        # From the user's few mentions to their conversations (a semi-join), each row
        # marked when a mention in it is still unread.
        mentions = NoteMention.objects.filter(user=user)
        queryset = queryset.filter(pk__in=mentions.values("note__conversation_id")).annotate(
            unread_mention=Exists(mentions.filter(read_at__isnull=True, note__conversation_id=OuterRef("pk"))))
    return inbox_narrowed(queryset, filters).order_by(F("last_message_at").desc(nulls_last=True), "-id")


def inbox_narrowed(queryset: QuerySet[Conversation], filters: InboxFilter) -> QuerySet[Conversation]:
    """`queryset` narrowed to the view's status, number and label."""
    if filters.status != "any":
        queryset = queryset.filter(status=filters.status)
    if filters.number_id is not None:
        queryset = queryset.filter(number_id=filters.number_id)
    if filters.label_id is not None:
        queryset = queryset.filter(labels__id=filters.label_id)
    return queryset


def note_get(*, user, note_id) -> Note:
    try:
        return (
            Note.objects.filter(access.conversation_filter(user, prefix="conversation__"))
            .select_related("author", "conversation__organization")
            .get(pk=int(note_id))
        )
    except (Note.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def mentions_unread(*, user) -> QuerySet[NoteMention]:
    """The mentions of `user` in notes they have not read, in conversations they may see now."""
    visible = access.conversation_filter(user, prefix="note__conversation__", subqueries=True)
    return NoteMention.objects.filter(visible, user=user, read_at__isnull=True)


def mention_unread_count(*, user) -> int:
    """How many notes mention `user` unread, in conversations they may see now."""
    return mentions_unread(user=user).count()


def inbox_sidebar(*, user) -> dict:
    """The numbers and labels the inbox's navigation offers to `user` (two queries, and
    an agent's teams where the request has not read them yet)."""
    from apps.whatsapp.models import WhatsAppNumber

    if not access.is_member(user):
        return {"numbers": [], "labels": []}
    # What the navigation shows of a number, and nothing secret (its tokens stay unread).
    numbers = WhatsAppNumber.objects.filter(organization_id=user.organization_id).order_by("pk").only(
        "id", "name", "display_phone_number", "phone_number_id")
    if not user.is_supervisor_or_admin:
        # A number of one of their teams, or one with a conversation assigned to them
        # (a semi-join: the first such conversation answers, not all of theirs).
        numbers = numbers.filter(
            Q(pk__in=access.team_scope(user).number_ids)
            | Exists(Conversation.objects.filter(assignee_id=user.id, number_id=OuterRef("pk")))
        )
    return {"numbers": list(numbers), "labels": list(label_list(user=user))}
