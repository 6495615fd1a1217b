"""Messages the business sent from the WhatsApp Business app on the same number, and
the chats the app shared on onboarding (coexistence; apps.providers.events.BusinessMessage).

Echoes (`smb_message_echoes`) appear in the thread as the business's own messages,
sent from the app: they never open or refresh the 24-hour window (only a customer's
message does), start no bot and notify no one (they are outbound). Imported history
(`history`) keeps its original times, opens no window, adds nothing to the unread
count, starts no bot and publishes no message event (so nothing notifies): the
conversation it lands in is announced once. Idempotent on (number, wamid), like every
inbound message: Meta's redelivery and our replay store nothing twice.
"""

from __future__ import annotations

from apps.conversations import services as conversation_services
from apps.conversations.identity import Identity
from apps.realtime import groups
from apps.realtime.publish import publish

from ..models import Author, Direction, Message, Status
from ..serializers import message_event_data
from ..sql import messages_insert_new
from .inbound import MEDIA_KINDS, _media_create
from .inbound_content import fit, message_content, message_preview

# The status the phone had for an imported message of the business, as ours.
_HISTORY_STATUS = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.READ,
    "played": Status.PLAYED,
    "failed": Status.FAILED,
    "error": Status.FAILED,
}
_STATUS_TIME = {
    Status.DELIVERED: "delivered_at",
    Status.READ: "read_at",
    Status.PLAYED: "played_at",
    Status.FAILED: "failed_at",
}


def _identity(event) -> Identity:
    return Identity(
        wa_id=event.customer_wa_id[:32], user_id=event.customer_user_id[:160]
    )


def business_messages_receive(*, number, events: list) -> list[Message]:
    """Store echoes and imported history of `number` (BusinessMessage events). Returns
    the messages stored now (none for a redelivery)."""
    unique: dict[str, object] = {}
    for event in events:
        unique.setdefault(fit(Message, "wamid", event.wamid), event)
    stored = set(
        Message.objects.filter(number=number, wamid__in=list(unique)).values_list(
            "wamid", flat=True
        )
    )
    todo = {wamid: event for wamid, event in unique.items() if wamid not in stored}
    if not todo:
        return []
    organization = number.organization
    live = {e.customer: _identity(e) for e in todo.values() if not e.imported}
    imported = {e.customer: _identity(e) for e in todo.values() if e.imported}
    parties: dict[tuple[bool, str], tuple] = {}
    if live:
        names = {e.customer: e.profile_name for e in todo.values() if not e.imported}
        contacts = conversation_services.contacts_get_or_create_many(
            organization=organization, profiles=names, identities=live
        )
        for key, contact in contacts.items():
            conversation, created = conversation_services.conversation_get_or_open(
                contact=contact, number=number
            )
            conversation.contact = contact
            parties[(False, key)] = (contact, conversation, created)
    if imported:
        for key, found in conversation_services.conversations_for_history_many(
            organization=organization, number=number, customers=imported
        ).items():
            parties[(True, key)] = found
    replied = {e.reply_to_wamid for e in todo.values() if e.reply_to_wamid}
    reply_ids = (
        {
            (wamid, conversation_id): pk
            for wamid, conversation_id, pk in Message.objects.filter(
                number=number, wamid__in=replied
            ).values_list("wamid", "conversation_id", "id")
        }
        if replied
        else {}
    )
    objs = []
    for wamid, event in todo.items():
        _contact, conversation, _created = parties[(event.imported, event.customer)]
        message_type, content, text = message_content(
            event.type, event.content, event.raw
        )
        message = Message(
            organization=organization,
            conversation=conversation,
            number=number,
            wamid=wamid,
            direction=Direction.OUTBOUND if event.outbound else Direction.INBOUND,
            author_type=Author.BUSINESS_APP if event.outbound else Author.CUSTOMER,
            type=message_type,
            content=content,
            text=text,
            imported=event.imported,
            reply_to_id=reply_ids.get((event.reply_to_wamid, conversation.pk)),
            reply_to_wamid=fit(Message, "reply_to_wamid", event.reply_to_wamid),
            timestamp=event.timestamp,
            status=Status.RECEIVED,
        )
        if event.outbound:
            message.status = _HISTORY_STATUS.get(event.history_status, Status.SENT)
            message.sent_at = event.timestamp
            if message.status in _STATUS_TIME:
                setattr(message, _STATUS_TIME[message.status], event.timestamp)
        objs.append(message)
    inserted, _awaited = messages_insert_new(objs)
    new = [message for message in objs if message.wamid in inserted]
    if not new:
        return []
    for message in new:
        message.pk = message.id = inserted[message.wamid]
        message._state.adding = False
    # Last activity: the newest message's time and preview where it is the newest;
    # none of these counts as a customer's message (no window, no unread).
    newest: dict[int, Message] = {}
    for message in new:
        if message.conversation_id not in newest or (message.timestamp, message.pk) > (
            newest[message.conversation_id].timestamp,
            newest[message.conversation_id].pk,
        ):
            newest[message.conversation_id] = message
    returned = conversation_services.conversations_record_activity(
        activities=[
            conversation_services.Activity(
                pk, message.timestamp, message_preview(message)
            )
            for pk, message in newest.items()
        ]
    )
    media = {
        message.pk: _media_create(message=message, content=message.content)
        for message in new
        if message.type in MEDIA_KINDS
    }
    from apps.conversations.serializers import conversation_event_data

    created = {
        conversation.pk
        for _c, conversation, was_created in parties.values()
        if was_created
    }
    contacts = {
        conversation.pk: contact for contact, conversation, _ in parties.values()
    }
    for conversation in returned.values():
        conversation.contact = contacts[conversation.pk]
    for message in new:
        if not message.imported:
            publish(
                "message.created",
                message_event_data(message, reactions=[], media=media.get(message.pk)),
                groups=groups.conversation_groups(returned[message.conversation_id]),
            )
    for conversation in returned.values():
        publish(
            "conversation.created"
            if conversation.pk in created
            else "conversation.updated",
            conversation_event_data(conversation),
            groups=groups.conversation_groups(conversation),
        )
    return new
