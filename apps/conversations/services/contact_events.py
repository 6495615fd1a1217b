"""A contact's live event: contact.updated to everyone who sees the contact."""

from __future__ import annotations

from apps.realtime import groups
from apps.realtime.publish import publish

from ..models import Contact, Conversation
from ..serializers import ContactSerializer


def _contact_groups(contact: Contact) -> list[str]:
    found = [groups.org_supervisors(contact.organization_id)]
    for conversation in Conversation.objects.filter(contact=contact).exclude(status=Conversation.Status.RESOLVED):
        found.extend(groups.conversation_groups(conversation))
    return found


def _publish_contact(contact: Contact) -> None:
    publish("contact.updated", ContactSerializer(contact).data, groups=_contact_groups(contact))
