"""What the WhatsApp Business app on a number shares with the inbox (coexistence):
the phone's address book (contact names) and the conversation a shared chat history
is filed in."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ..identity import Identity
from ..models import AuditLogEntry, Contact, Conversation
from .contact_events import _publish_contact
from .contacts import contacts_get_or_create_many


@dataclass(frozen=True)
class AddressBookEntry:
    """A contact of the phone's address book: `action` "add" (also a change) or "remove"."""

    wa_id: str
    action: str
    name: str
    at: object = None  # datetime | None


def contacts_address_book_apply(
    *, organization, entries: list[AddressBookEntry]
) -> list[Contact]:
    """The phone's address book changed: an added or changed entry gives the contact
    (created when new) its name; a removed one clears the name only while it is still
    the one the address book gave, and never touches the contact's conversations.
    Idempotent: the same change again changes nothing. Returns the contacts changed."""
    entries = [entry for entry in entries if entry.wa_id]
    if not entries:
        return []
    adds = {entry.wa_id: "" for entry in entries if entry.action == "add"}
    contacts = (
        contacts_get_or_create_many(organization=organization, profiles=adds)
        if adds
        else {}
    )
    removed = [
        entry.wa_id
        for entry in entries
        if entry.action == "remove" and entry.wa_id not in contacts
    ]
    for contact in Contact.objects.filter(organization=organization, wa_id__in=removed):
        contact.organization = organization
        contacts[contact.wa_id] = contact
    changed: dict[int, Contact] = {}
    for entry in entries:
        contact = contacts.get(entry.wa_id)
        if contact is None:
            continue
        name = entry.name[: Contact._meta.get_field("name").max_length]
        if entry.action == "add" and name and contact.name != name:
            before, contact.name = contact.name, name
        elif entry.action == "remove" and name and contact.name == name:
            before, contact.name = contact.name, ""
        else:
            continue
        Contact.objects.filter(pk=contact.pk).update(
            name=contact.name, updated_at=timezone.now()
        )
        AuditLogEntry.objects.create(
            organization_id=organization.pk,
            action="contact.address_book",
            data={
                "contact_id": contact.pk,
                "action": entry.action,
                "before": before,
                "after": contact.name,
            },
        )
        changed[contact.pk] = contact
    for contact in changed.values():
        transaction.on_commit(lambda contact=contact: _publish_contact(contact))
    return list(changed.values())


def conversations_for_history_many(
    *, organization, number, customers: dict[str, Identity]
) -> dict[str, tuple[Contact, Conversation, bool]]:
    """Where the chats the Business app shared are filed, per customer key: the
    customer's active conversation on `number`, else its latest one, else a new
    conversation created resolved (old chats are nothing to work on; a customer's next
    message finds it as any resolved one). Returns key -> (contact, conversation, created)."""
    contacts = contacts_get_or_create_many(
        organization=organization,
        profiles={key: "" for key in customers},
        identities=customers,
    )
    found: dict[str, tuple[Contact, Conversation, bool]] = {}
    for key, contact in contacts.items():
        conversation = (
            Conversation.objects.filter(contact=contact, number=number)
            .exclude(status=Conversation.Status.RESOLVED)
            .first()
            or Conversation.objects.filter(contact=contact, number=number)
            .order_by("-last_message_at", "-id")
            .first()
        )
        created = False
        if conversation is None:
            # Resolved conversations are not unique per contact: no race to settle.
            conversation = Conversation.objects.create(
                organization=organization,
                contact=contact,
                number=number,
                status=Conversation.Status.RESOLVED,
                resolved_at=timezone.now(),
            )
            AuditLogEntry.objects.create(
                organization_id=organization.pk,
                conversation=conversation,
                action="conversation.imported",
                data={"source": "business_app_history"},
            )
            created = True
        conversation.contact = contact
        found[key] = (contact, conversation, created)
    return found
