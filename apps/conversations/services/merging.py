"""One customer, one contact: WhatsApp's own id for a contact stored, and two contacts
found to be the same customer merged into one.

WhatsApp tells the customer's real WhatsApp id in the answer to a send and in the
customer's messages; it can differ from the number the business typed (Brazil's
ninth digit, Mexico's 521: conversations.identity). `contact_wa_id_confirm` stores
it; when another contact of the organisation holds it already, the two are one
customer and `contacts_merge` joins them: every conversation moves to the contact
that keeps the id, a conversation still open on a number where that contact has one
open too is folded into it (its messages, notes and everything else attached to it
move; it stays, resolved and empty, with its history of changes), the profile fields
the survivor lacks are taken over, and an audit entry records it all. Nothing is
deleted but the merged contact row itself.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.realtime import groups
from apps.realtime.publish import publish

from ..models import AuditLogEntry, Contact, Conversation
from ..serializers import ConversationSerializer
from .contact_events import _publish_contact

logger = logging.getLogger(__name__)


def contact_wa_id_confirm(*, contact_id: int, wa_id: str, source: str) -> Contact | None:
    """WhatsApp says the customer of contact `contact_id` has the WhatsApp id `wa_id`
    (`source`: where it said so, kept in the audit entry). Stores it on the contact,
    or merges the contact into the organisation's contact that holds it already.
    Returns the contact that holds `wa_id` now (None when the contact is gone)."""
    wa_id = str(wa_id or "")
    if not wa_id:
        return Contact.objects.filter(pk=contact_id).first()
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return _confirm(contact_id, wa_id, source)
        except IntegrityError:  # a concurrent first message created a contact with that id: merge into it
            logger.info("contact %s: wa_id %s taken meanwhile; merging", contact_id, wa_id)
    return Contact.objects.filter(pk=contact_id).first()


def _confirm(contact_id: int, wa_id: str, source: str) -> Contact | None:
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None or contact.wa_id == wa_id:
        return contact
    holder_id = (Contact.objects.filter(organization_id=contact.organization_id, wa_id=wa_id)
                 .exclude(pk=contact_id).values_list("pk", flat=True).first())
    # Both rows locked in id order: two merges of the same pair never wait on each other.
    locked = {c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=[contact_id, holder_id or 0])
              .order_by("pk")}
    contact, holder = locked.get(contact_id), locked.get(holder_id)
    if contact is None or contact.wa_id == wa_id:
        return contact
    if holder is not None:
        return contacts_merge(into=holder, merged=contact, reason=source)
    old = contact.wa_id
    changes = {"wa_id": wa_id, "updated_at": timezone.now()}
    if not contact.phone:
        changes["phone"] = f"+{wa_id}"
    with transaction.atomic():
        Contact.objects.filter(pk=contact.pk).update(**changes)
    for name, value in changes.items():
        setattr(contact, name, value)
    AuditLogEntry.objects.create(
        organization_id=contact.organization_id, action="contact.wa_id_confirmed",
        data={"contact_id": contact.pk, "wa_id": wa_id, "previous_wa_id": old, "source": source},
    )
    _publish_contact(contact)
    return contact


def contacts_merge(*, into: Contact, merged: Contact, reason: str, actor=None) -> Contact:
    """Make `merged` part of `into` (two contacts of one organisation found to be one
    customer; call inside a transaction holding both rows locked). See the module's doc."""
    if into.pk == merged.pk or into.organization_id != merged.organization_id:
        raise ValueError("contacts_merge joins two contacts of one organisation")
    now = timezone.now()
    conversations = list(Conversation.objects.select_for_update()
                         .filter(contact_id__in=[into.pk, merged.pk]).order_by("pk"))
    open_of_into = {c.number_id: c for c in conversations
                    if c.contact_id == into.pk and c.status != Conversation.Status.RESOLVED}
    moved, folded = [], []
    for conversation in conversations:
        if conversation.contact_id != merged.pk:
            continue
        moved.append(conversation.pk)
        target = open_of_into.get(conversation.number_id)
        if target is not None and conversation.status != Conversation.Status.RESOLVED:
            _conversation_fold(conversation, into=target, now=now)
            folded.append([conversation.pk, target.pk])
    Conversation.objects.filter(contact_id=merged.pk).update(contact_id=into.pk, updated_at=now)
    changes = _profile_taken_over(into, merged)
    merged_identity = {"wa_id": merged.wa_id, "user_id": merged.user_id}
    Contact.objects.filter(pk=merged.pk).delete()  # nothing points at it any more
    if changes:
        Contact.objects.filter(pk=into.pk).update(**changes, updated_at=now)
        for name, value in changes.items():
            setattr(into, name, value)
    AuditLogEntry.objects.create(
        organization_id=into.organization_id, actor=actor if getattr(actor, "pk", None) else None,
        action="contact.merged",
        data={"contact_id": into.pk, "merged_contact_id": merged.pk, "merged": merged_identity,
              "conversations": moved, "folded": folded, "fields": sorted(changes), "reason": reason},
    )
    _publish_contact(into)
    for conversation in Conversation.objects.select_related("contact", "assignee", "number").filter(pk__in=moved
                                                                                                      + [t for _, t in folded]):
        publish("conversation.updated", ConversationSerializer(conversation).data,
                groups=groups.conversation_groups(conversation))
    return into


def _conversation_fold(source: Conversation, *, into: Conversation, now) -> None:
    """Move everything attached to the open conversation `source` (its messages, notes,
    the bot's runs, report rows...) into the open conversation `into` of the same
    number, which takes its unread count, labels and, where later, its last activity;
    `source` is resolved, its own change history left with it and a note of where its
    messages went."""
    for relation in Conversation._meta.get_fields(include_hidden=True):
        if (not relation.one_to_many or not relation.auto_created or relation.related_model is AuditLogEntry
                or relation.related_model._meta.auto_created):  # the labels' table: below
            continue
        name = relation.field.name
        relation.related_model._base_manager.filter(**{name: source.pk}).update(**{name: into.pk})
    into.labels.add(*source.labels.all())
    later = source.last_message_at is not None and (into.last_message_at is None
                                                    or source.last_message_at > into.last_message_at)
    changes = {"unread_count": into.unread_count + source.unread_count, "updated_at": now}
    if later:
        changes.update(last_message_at=source.last_message_at, last_message_preview=source.last_message_preview)
    for name in ("last_customer_message_at",):
        theirs, ours = getattr(source, name), getattr(into, name)
        if theirs is not None and (ours is None or theirs > ours):
            changes[name] = theirs
    if source.first_response_at is not None and (into.first_response_at is None
                                                 or source.first_response_at < into.first_response_at):
        changes["first_response_at"] = source.first_response_at
    # The source is resolved first: one open conversation per contact and number.
    Conversation.objects.filter(pk=source.pk).update(status=Conversation.Status.RESOLVED, resolved_at=now,
                                                     unread_count=0, snoozed_until=None, updated_at=now)
    Conversation.objects.filter(pk=into.pk).update(**changes)
    for name, value in changes.items():
        setattr(into, name, value)
    for conversation, action, other in ((source, "conversation.merged_into", into), (into, "conversation.merged",
                                                                                     source)):
        AuditLogEntry.objects.create(organization_id=conversation.organization_id, conversation_id=conversation.pk,
                                     action=action, data={"conversation_id": other.pk})


def _profile_taken_over(into: Contact, merged: Contact) -> dict:
    """The fields `into` takes from `merged`: identifiers and names it lacks, the
    attributes it does not have, the stricter opt-out, the newer marketing choice."""
    changes = {}
    if merged.user_id and not into.user_id:
        changes.update(user_id=merged.user_id, parent_user_id=merged.parent_user_id)
    for name in ("username", "phone", "name", "profile_name"):
        if getattr(merged, name) and not getattr(into, name):
            changes[name] = getattr(merged, name)
    attributes = {**(merged.attributes or {}), **(into.attributes or {})}
    if attributes != (into.attributes or {}):
        changes["attributes"] = attributes
    if merged.opted_out and not into.opted_out:
        changes.update(opted_out=True, opted_out_at=merged.opted_out_at, opt_out_reason=merged.opt_out_reason)
    if merged.marketing_opted_out_at is not None and (into.marketing_opted_out_at is None
                                                      or merged.marketing_opted_out_at > into.marketing_opted_out_at):
        changes.update(marketing_opted_out=merged.marketing_opted_out,
                       marketing_opted_out_at=merged.marketing_opted_out_at)
    return changes


def contact_identity_change(*, contact_id: int, wa_id: str = "", user_id: str = "", parent_user_id: str = "",
                            source: str) -> Contact | None:
    """WhatsApp says the customer of contact `contact_id` now has these identifiers (a
    changed phone number, a changed business-scoped user id: Meta's user_changed_number
    and user_changed_user_id). The contact takes them, keeping its history; when another
    contact of the organisation holds one of them already (the customer wrote from the
    new identity first), the two are merged into that one. Returns the contact that
    holds the new identity (None when the contact is gone)."""
    contact = contact_wa_id_confirm(contact_id=contact_id, wa_id=wa_id, source=source)
    if contact is None or not user_id or contact.user_id == user_id:
        return contact
    with transaction.atomic():
        holder_id = (Contact.objects.filter(organization_id=contact.organization_id, user_id=user_id)
                     .exclude(pk=contact.pk).values_list("pk", flat=True).first())
        locked = {c.pk: c for c in Contact.objects.select_for_update()
                  .filter(pk__in=[contact.pk, holder_id or 0]).order_by("pk")}
        contact, holder = locked.get(contact.pk), locked.get(holder_id)
        if contact is None:
            return holder
        if holder is not None:
            return contacts_merge(into=holder, merged=contact, reason=source)
        previous = {"user_id": contact.user_id, "parent_user_id": contact.parent_user_id}
        changes = {"user_id": user_id, "parent_user_id": parent_user_id or contact.parent_user_id,
                   "updated_at": timezone.now()}
        Contact.objects.filter(pk=contact.pk).update(**changes)
        for name, value in changes.items():
            setattr(contact, name, value)
        AuditLogEntry.objects.create(
            organization_id=contact.organization_id, action="contact.user_id_changed",
            data={"contact_id": contact.pk, "user_id": user_id, "previous": previous, "source": source},
        )
    _publish_contact(contact)
    return contact
