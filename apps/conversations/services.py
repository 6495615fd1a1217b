"""Use-cases on contacts and conversations. The only writers of these rows."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from apps.realtime import groups
from apps.realtime.publish import publish

from .models import Contact, Conversation
from .serializers import ConversationSerializer


def contact_get_or_create(*, organization, wa_id: str, profile_name: str | None = None) -> Contact:
    """The organisation's contact for `wa_id`, created if new; the WhatsApp profile
    name is refreshed when Meta sends a different one. Safe under concurrency."""
    try:
        with transaction.atomic():
            contact, created = Contact.objects.get_or_create(
                organization=organization,
                wa_id=wa_id,
                defaults={"phone": f"+{wa_id}", "profile_name": profile_name or ""},
            )
    except IntegrityError:  # a concurrent first message created it
        contact, created = Contact.objects.get(organization=organization, wa_id=wa_id), False
    if not created and profile_name and contact.profile_name != profile_name:
        Contact.objects.filter(pk=contact.pk).update(profile_name=profile_name)
        contact.profile_name = profile_name
    return contact


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
