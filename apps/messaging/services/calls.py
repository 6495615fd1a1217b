"""WhatsApp calls in the thread (apps.providers.events.CallUpdate): one message per
call, keyed by Meta's call id like any message (number, wamid), whose content keeps
the call's direction, its events, and what became of it: ringing, accepted,
completed (with its duration), missed or rejected. A call is not a customer's
message: it opens no window, starts no bot and adds nothing to the unread count.
Idempotent, and order-proof: an event seen before changes nothing, and a late
"connect" never undoes how the call ended."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.conversations import services as conversation_services
from apps.conversations.identity import Identity

from ..models import Author, Direction, Message, MessageType, Status
from ..sql import messages_insert_new
from .inbound import message_publish
from .inbound_content import fit, message_preview

# How far a call got: an outcome never gives way to an earlier one.
OUTCOME_RANK = {"ringing": 0, "accepted": 1, "completed": 2, "missed": 2, "rejected": 2}
OUTCOME_LABELS = {
    "ringing": _("Call ringing"),
    "accepted": _("Call in progress"),
    "completed": _("Call"),
    "missed": _("Missed call"),
    "rejected": _("Call declined"),
}


def call_outcome(update) -> str:
    if update.event == "status":
        return {"ACCEPTED": "accepted", "REJECTED": "rejected"}.get(
            update.status, "ringing"
        )
    if update.event == "terminate":
        return (
            "completed"
            if update.status == "COMPLETED" and (update.duration or 0) > 0
            else "missed"
        )
    return "ringing"


def call_receive(*, number, update) -> Message | None:
    """Record one call event on `number`: the call's message created on its first
    event, its content changed by the next ones. Returns the message."""
    wamid = fit(Message, "wamid", update.call_id)
    incoming = update.direction != "BUSINESS_INITIATED"
    key = update.customer
    contact = conversation_services.contacts_get_or_create_many(
        organization=number.organization,
        profiles={key: update.profile_name if incoming else ""},
        identities={
            key: Identity(
                wa_id=update.customer_wa_id[:32], user_id=update.customer_user_id[:160]
            )
        },
    )[key]
    created = False
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(number=number, wamid=wamid)
            .first()
        )
        if message is None:
            conversation, _opened = conversation_services.conversation_get_or_open(
                contact=contact, number=number
            )
            at = (
                update.start_time
                if update.event == "terminate" and update.start_time
                else update.timestamp
            )
            row = Message(
                organization=number.organization,
                conversation=conversation,
                number=number,
                wamid=wamid,
                direction=Direction.INBOUND if incoming else Direction.OUTBOUND,
                author_type=Author.CUSTOMER if incoming else Author.SYSTEM,
                type=MessageType.CALL,
                content={},
                text="",
                timestamp=at,
                status=Status.RECEIVED if incoming else Status.SENT,
                sent_at=None if incoming else at,
            )
            created = bool(messages_insert_new([row])[0])
            message = (
                Message.objects.select_for_update()
                .select_related("conversation")
                .get(number=number, wamid=wamid)
            )
        content = _merged(message.content, update)
        if content == message.content and not created:
            return message
        message.content = content
        if update.event == "connect" and update.timestamp < message.timestamp:
            message.timestamp = update.timestamp
        message.save(update_fields=["content", "timestamp"])
        # The conversation's last activity is the call's latest event (its end, once it ended).
        conversation_services.conversations_record_activity(
            activities=[
                conversation_services.Activity(
                    message.conversation_id,
                    max(update.timestamp, message.timestamp),
                    call_preview(message),
                )
            ]
        )
    message_publish(message, event="message.created" if created else "message.updated")
    conversation_services.conversation_publish(message.conversation)
    return message


def _merged(content: dict, update) -> dict:
    content = dict(content or {})
    entry = {
        "event": update.event,
        "status": update.status,
        "at": update.timestamp.isoformat(),
    }
    events = list(content.get("events") or [])
    if entry in events:
        return content
    content["events"] = sorted([*events, entry], key=lambda e: e["at"])
    content["direction"] = update.direction or content.get("direction", "")
    outcome = call_outcome(update)
    if OUTCOME_RANK[outcome] >= OUTCOME_RANK.get(content.get("outcome"), -1):
        content["outcome"] = outcome
    if update.event == "terminate":
        content["status"] = update.status
        if update.duration is not None:
            content["duration"] = update.duration
        for name in ("start_time", "end_time"):
            if getattr(update, name) is not None:
                content[name] = getattr(update, name).isoformat()
        if update.errors:
            content["errors"] = update.errors
    return content


def call_preview(message: Message) -> str:
    return str(
        OUTCOME_LABELS.get(
            (message.content or {}).get("outcome"), message_preview(message)
        )
    )
