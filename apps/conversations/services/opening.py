"""A customer's conversation: found, opened or reopened for an inbound message, and snoozed
ones woken."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.realtime import groups
from apps.realtime.publish import publish

from ..identity import Identity
from ..models import AuditLogEntry, Contact, Conversation
from ..serializers import ConversationSerializer
from .contacts import _profile_name_refresh, contact_identity_refresh, contacts_get_or_create_many


def inbound_parties_many(*, organization, number, profiles: dict[str, str],
                         identities: dict[str, Identity] | None = None
                         ) -> tuple[dict[str, Contact], dict[int, tuple[Conversation, str]]]:
    """`contacts_get_or_create_many` and then `conversations_for_inbound_many`, with
    the customers who have an active conversation on `number` (most messages of a
    busy inbox) read in one query, their conversation with its contact: key ->
    contact, contact id -> (conversation, how). Keys and `identities` as
    `contacts_get_or_create_many` takes them."""
    wanted = {key: (identities or {}).get(key) or Identity(wa_id=key) for key in profiles}
    by_wa_id = {identity.wa_id: key for key, identity in wanted.items() if identity.wa_id}
    by_user_id = {identity.user_id: key for key, identity in wanted.items() if identity.user_id}
    contacts: dict[str, Contact] = {}
    conversations: dict[int, tuple[Conversation, str]] = {}
    # The contact's organisation, not the conversation's: (organization, wa_id) is the
    # contacts' index. With only wa_id PostgreSQL chose the trigram search index
    # (49 ms instead of 0.4 on 100,000 contacts).
    match = Q(contact__wa_id__in=list(by_wa_id))
    if by_user_id:
        match |= Q(contact__user_id__in=list(by_user_id))
    active = (Conversation.objects.filter(match, contact__organization=organization, number=number)
              .exclude(status=Conversation.Status.RESOLVED).select_related("contact"))
    for conversation in active:
        contact = conversation.contact
        key = by_wa_id.get(contact.wa_id) if contact.wa_id else None
        key = key or (by_user_id.get(contact.user_id) if contact.user_id else None)
        if key is None or key in contacts:
            continue
        contact.organization = organization
        contact_identity_refresh(contact, wanted[key])
        _profile_name_refresh(contact, profiles.get(key))
        contacts[key] = contact
        conversations[contact.pk] = (_active_for_inbound(conversation), "existing")
    rest = {key: name for key, name in profiles.items() if key not in contacts}
    if rest:
        more = contacts_get_or_create_many(organization=organization, profiles=rest, identities=wanted)
        contacts.update(more)
        conversations.update(conversations_for_inbound_many(contacts=list(more.values()), number=number))
    return contacts, conversations


def _active_for_inbound(conversation: Conversation) -> Conversation:
    """A customer's message wakes the snoozed conversation it lands in."""
    if conversation.status == Conversation.Status.SNOOZED:
        _conversation_wake(conversation, reason="customer_message")
    return conversation


def conversations_for_inbound_many(*, contacts: list[Contact], number) -> dict[int, tuple[Conversation, str]]:
    """`conversation_for_inbound` for many contacts of one number that had no active
    conversation on it when `inbound_parties_many` read them: contact id ->
    (conversation, "created" | "reopened" | "existing"). The new customers'
    conversations are created with one INSERT; only contacts with a resolved
    conversation to reopen, or whose conversation a concurrent message opened since,
    take the single path."""
    found: dict[int, tuple[Conversation, str]] = {}
    missing = list(contacts)
    if not missing:
        return found
    single = set()
    if number.organization.on_message_to_resolved == number.organization.ResolvedPolicy.REOPEN:
        single = set(Conversation.objects.filter(contact__in=missing, number=number,
                                                 status=Conversation.Status.RESOLVED)
                     .values_list("contact_id", flat=True).distinct())
    fresh = [contact for contact in missing if contact.pk not in single]
    if fresh:
        try:
            with transaction.atomic():
                created = Conversation.objects.bulk_create([
                    Conversation(organization_id=contact.organization_id, contact=contact, number=number)
                    for contact in fresh
                ])
        except IntegrityError:  # a concurrent message opened one of them: one by one
            single.update(contact.pk for contact in fresh)
        else:
            found.update((conversation.contact_id, (conversation, "created")) for conversation in created)
    for contact in missing:
        if contact.pk in single:
            found[contact.pk] = conversation_for_inbound(contact=contact, number=number)
    return found


def conversation_get_or_open(*, contact: Contact, number, bot_active: bool = False) -> tuple[Conversation, bool]:
    """The contact's active (not resolved) conversation on `number`, or a new open one.

    The partial unique constraint (one active conversation per contact and number)
    settles races: the loser of a concurrent insert reads the winner's row.
    """
    active = Conversation.objects.filter(contact=contact, number=number).exclude(status=Conversation.Status.RESOLVED)
    conversation = active.first()
    if conversation is not None:
        return conversation, False
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                organization_id=contact.organization_id, contact=contact, number=number, bot_active=bot_active
            )
            return conversation, True
    except IntegrityError:
        return active.get(), False


def conversation_publish(conversation: Conversation, *, event: str = "conversation.updated") -> None:
    """Announce the conversation's current state to everyone who may see it."""
    publish(event, ConversationSerializer(conversation).data, groups=groups.conversation_groups(conversation))


def conversation_for_inbound(*, contact: Contact, number) -> tuple[Conversation, str]:
    """The conversation a customer's new message belongs to, and what happened to
    it: "existing", "created" or "reopened".

    A message to a resolved conversation reopens the latest one or starts a new
    one, as the organisation chose (`on_message_to_resolved`).
    """
    active = Conversation.objects.filter(contact=contact, number=number).exclude(status=Conversation.Status.RESOLVED)
    conversation = active.first()
    if conversation is not None:
        return _active_for_inbound(conversation), "existing"
    organization = contact.organization
    if organization.on_message_to_resolved == organization.ResolvedPolicy.REOPEN:
        resolved = (
            Conversation.objects.filter(contact=contact, number=number, status=Conversation.Status.RESOLVED)
            .order_by("-resolved_at", "-id")
            .first()
        )
        if resolved is not None:
            try:
                with transaction.atomic():
                    reopened = Conversation.objects.filter(
                        pk=resolved.pk, status=Conversation.Status.RESOLVED
                    ).update(status=Conversation.Status.OPEN, resolved_at=None, snoozed_until=None)
            except IntegrityError:  # a concurrent message opened another one meanwhile
                return active.get(), "existing"
            resolved.refresh_from_db()
            if reopened:
                AuditLogEntry.objects.create(
                    organization_id=resolved.organization_id,
                    conversation=resolved,
                    action="conversation.reopened",
                    data={"reason": "customer_message"},
                )
            return resolved, "reopened" if reopened else "existing"
    conversation, created = conversation_get_or_open(contact=contact, number=number)
    return conversation, "created" if created else "existing"


def _conversation_wake(conversation: Conversation, *, reason: str) -> bool:
    """Snoozed → open (one conditional UPDATE: a concurrent wake or change wins)."""
    woken = Conversation.objects.filter(pk=conversation.pk, status=Conversation.Status.SNOOZED).update(
        status=Conversation.Status.OPEN, snoozed_until=None, updated_at=timezone.now()
    )
    if woken:
        conversation.status, conversation.snoozed_until = Conversation.Status.OPEN, None
        AuditLogEntry.objects.create(
            organization_id=conversation.organization_id,
            conversation=conversation,
            action="conversation.woken",
            data={"reason": reason},
        )
    return bool(woken)


def conversation_wake_snoozed(*, now=None) -> int:
    """Reopen every snoozed conversation whose time has come (the periodic job);
    each is announced to those who may see it. Returns how many were woken."""
    now = now or timezone.now()
    due = Conversation.objects.filter(status=Conversation.Status.SNOOZED, snoozed_until__lte=now).order_by("pk")
    woken = 0
    for conversation in due.iterator():
        with transaction.atomic():
            if _conversation_wake(conversation, reason="snooze_ended"):
                woken += 1
                conversation_publish(conversation)
    return woken
