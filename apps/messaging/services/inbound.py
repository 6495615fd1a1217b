"""Store what customers send, from parsed webhook events (apps.providers.events).

Idempotent on Meta's ids: messages are inserted under the (number, wamid) unique
constraint (ON CONFLICT DO NOTHING), and a duplicate delivery (Meta's retry, our
replay) changes nothing — no second row, no second unread count, no second event.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.conversations import services as conversation_services
from apps.conversations.identity import Identity
from apps.conversations.models import Contact
from apps.core.tasks import enqueue
from apps.realtime import groups
from apps.realtime.publish import publish

from ..models import Author, Direction, Message, MessageType, Reaction, Status
from ..serializers import MessageSerializer, message_event_data
from ..sql import messages_insert_new
from .inbound_content import (  # noqa: F401 (names callers use from this module)
    DIRECT_TYPES,
    MEDIA_KINDS,
    PREVIEW_LABELS,
    event_fit,
    fit,
    message_content,
    message_preview,
    message_text,
)

logger = logging.getLogger(__name__)


@dataclass
class InboundResult:
    message: Message | None
    created: bool


# --- Publishing ----------------------------------------------------------------------


def message_publish(message: Message, *, event: str) -> None:
    conversation = message.conversation
    publish(event, MessageSerializer(message).data, groups=groups.conversation_groups(conversation))


# --- Use-cases ---------------------------------------------------------------------


def message_receive(*, number, event) -> InboundResult:
    """Store one customer message (apps.providers.events.InboundMessage) on `number`:
    a reaction, an edit or a revoke changes the message it names; any other type is
    `messages_receive_batch` with one."""
    event = event_fit(event)
    if event.type == "reaction":
        reaction_receive(number=number, event=event)
        return InboundResult(message=None, created=False)
    if event.type == "edit":
        return message_edit_receive(number=number, event=event)
    if event.type == "revoke":
        message_revoke_receive(number=number, event=event)
        return InboundResult(message=None, created=False)
    return _receive_one(number=number, event=event)


def _receive_one(*, number, event, extra_content: dict | None = None) -> InboundResult:
    new = messages_receive_batch(number=number, events=[event],
                                 extra_content={event.wamid: extra_content} if extra_content else None)
    if new:
        return InboundResult(message=new[0], created=True)
    # Stored before (Meta's retry, our replay) or by a concurrent delivery that won.
    return InboundResult(message=Message.objects.filter(number=number, wamid=event.wamid).first(), created=False)


# Meta's types that a batch stores directly (the others change an existing row).
BATCH_EXCLUDED_TYPES = {"reaction", "edit", "revoke"}


def identity_of(event) -> Identity:
    """Who sent an inbound message (apps.providers.events.InboundMessage)."""
    return Identity(wa_id=event.from_wa_id, user_id=event.from_user_id, parent_user_id=event.parent_user_id,
                    username=event.username)


def _from_sender(event) -> Q:
    """Messages of the conversations of `event`'s sender, found by wa_id, else user id."""
    if event.from_wa_id:
        return Q(conversation__contact__wa_id=event.from_wa_id)
    return Q(conversation__contact__user_id=event.from_user_id)


def messages_receive_batch(*, number, events: list, extra_content: dict[str, dict] | None = None
                           ) -> list[Message]:
    """Store customer messages on `number` (apps.providers.events.InboundMessage,
    not reactions, edits or revokes): the one way a customer's message is stored, for a
    drain's batch or a single one (`message_receive`). Contacts, conversations and
    messages with a few queries for the whole batch, one conversation UPDATE and one
    conversation event per conversation, a message event for each new message.
    Idempotent on (number, wamid): a message already stored, or stored meanwhile by a
    concurrent delivery, is skipped. `extra_content`: wamid -> keys added to that
    message's content. Returns the new messages."""
    organization = number.organization
    unique: dict[str, object] = {}
    for event in map(event_fit, events):
        unique.setdefault(event.wamid, event)
    stored = set(Message.objects.filter(number=number, wamid__in=list(unique)).values_list("wamid", flat=True))
    todo = [event for wamid, event in unique.items() if wamid not in stored]
    if not todo:
        return []
    profiles: dict[str, str] = {}
    identities = {}
    for event in sorted(todo, key=lambda e: e.timestamp):  # the newest profile name wins
        if event.profile_name or event.sender not in profiles:
            profiles[event.sender] = event.profile_name or ""
        identities[event.sender] = identity_of(event)
    contacts, conversations = conversation_services.inbound_parties_many(
        organization=organization, number=number, profiles=profiles, identities=identities)
    # Reply contexts, each only within its conversation: another one's agents may differ.
    replied = {e.reply_to_wamid for e in todo if e.reply_to_wamid}
    reply_ids = {(wamid, conversation_id): pk for wamid, conversation_id, pk in Message.objects.filter(
        number=number, wamid__in=replied).values_list("wamid", "conversation_id", "id")} if replied else {}
    objs = []
    for event in todo:
        message_type, content, text = message_content(event.type, event.content, event.raw)
        if event.referred_product:
            content = {**content, "referred_product": event.referred_product}
        if extra_content and event.wamid in extra_content:
            content = {**content, **extra_content[event.wamid]}
        conversation, _how = conversations[contacts[event.sender].pk]
        objs.append(Message(
            organization=organization, conversation=conversation, number=number, wamid=event.wamid,
            direction=Direction.INBOUND, author_type=Author.CUSTOMER, type=message_type, content=content, text=text,
            reply_to_id=reply_ids.get((event.reply_to_wamid, conversation.pk)), reply_to_wamid=event.reply_to_wamid,
            forwarded=event.forwarded, frequently_forwarded=event.frequently_forwarded, referral=event.referral,
            errors=event.errors, status=Status.RECEIVED, timestamp=event.timestamp,
        ))
    inserted, awaited = messages_insert_new(objs)
    new = [m for m in objs if m.wamid in inserted]
    if not new:
        return []
    for message in new:
        message.pk = message.id = inserted[message.wamid]
        message._state.adding = False
    # One UPDATE per conversation: how many new messages, the newest one's time and preview.
    per_conversation: dict[int, list[Message]] = {}
    for message in new:
        per_conversation.setdefault(message.conversation_id, []).append(message)
    updates = []
    for conversation_id, messages in per_conversation.items():
        newest = max(messages, key=lambda m: (m.timestamp, m.pk))
        updates.append((conversation_id, newest.timestamp, message_preview(newest), len(messages)))
    returned = conversation_services.conversations_record_inbound_many(updates=updates)
    # Reactions that arrived before their message: the customer's own only.
    targets = list(awaited)
    waiting = list(Reaction.objects.filter(number=number, target_wamid__in=targets, message__isnull=True)
                   .order_by("pk")) if targets else []
    reactions: dict[int, list[Reaction]] = {}
    for reaction in waiting:
        if reaction.reactor != unique[reaction.target_wamid].sender:
            continue
        reaction.message_id = inserted[reaction.target_wamid]
        Reaction.objects.filter(pk=reaction.pk).update(message_id=reaction.message_id)
        reactions.setdefault(reaction.message_id, []).append(reaction)
    _identity_changes(new, contacts={e.wamid: contacts[e.sender] for e in todo})
    media: dict[int, object] = {}
    for message in new:
        if message.type in MEDIA_KINDS:
            media[message.pk] = _media_create(message=message, content=message.content)
        if message.type == MessageType.TEXT:
            _opt_keywords(organization=organization, contact=contacts[unique[message.wamid].sender],
                          conversation=message.conversation, message=message)
    from apps.conversations.serializers import conversation_event_data

    # What the inbox shows. A new message's event is built from the row just written
    # (no author, its reactions and media known here): the same data as the serializer
    # gives for the stored row (tests compare them) without reading it back. The
    # conversations' events are built the same way (conversation_event_data) from the
    # rows the UPDATE above returned.
    fresh_conversations = returned
    contacts_by_id = {contact.pk: contact for contact in contacts.values()}
    for conversation in fresh_conversations.values():
        conversation.contact = contacts_by_id[conversation.contact_id]
    for message in new:
        publish("message.created",
                message_event_data(message, reactions=reactions.get(message.pk, []), media=media.get(message.pk)),
                groups=groups.conversation_groups(fresh_conversations[message.conversation_id]))
    how_by_conversation = {c.pk: how for c, how in conversations.values()}
    for conversation_id in per_conversation:
        conversation = fresh_conversations[conversation_id]
        created = how_by_conversation.get(conversation_id) == "created"
        publish("conversation.created" if created else "conversation.updated", conversation_event_data(conversation),
                groups=groups.conversation_groups(conversation))
    return new


# Meta's system messages that tell a customer's identifiers changed.
IDENTITY_CHANGES = ("user_changed_number", "user_changed_user_id")


def _identity_changes(new: list[Message], *, contacts: dict) -> None:
    """A system message saying the customer changed number or business-scoped user id:
    the contact takes the new identifiers (or joins the contact that already has them),
    and the message stays in the thread as the record of it."""
    for message in new:
        content = message.content if message.type == MessageType.SYSTEM else None
        if not isinstance(content, dict) or content.get("type") not in IDENTITY_CHANGES:
            continue
        wa_id = str(content.get("wa_id") or "") if content["type"] == "user_changed_number" else ""
        contact = contacts[message.wamid]
        previous = str(content.get("previous_user_id") or "")
        if previous and previous != contact.user_id:
            # The delivery may name the customer by the new user id already: the contact
            # of the previous one is the customer's history, joined to it here.
            contact = (Contact.objects.filter(organization_id=message.organization_id, user_id=previous).first()
                       or contact)
        conversation_services.contact_identity_change(
            contact_id=contact.pk, wa_id="".join(ch for ch in wa_id if ch.isdigit()),
            user_id=str(content.get("user_id") or ""), parent_user_id=str(content.get("parent_user_id") or ""),
            source=content["type"])


_MEDIA_ID_MISSING = _("The file has no WhatsApp media id.")
_MEDIA_ID_REFUSED = _("The file was not fetched: its WhatsApp media id is not one Meta issues.")


def _media_create(*, message: Message, content: dict):
    from apps.media.models import Media
    from apps.providers.meta.parser import media_id_valid

    # A media id not of Meta's shape is never fetched (it would be a path or a URL
    # called with the number's token); the message is kept, its file marked failed.
    meta_media_id = content.get("id", "")
    fetchable = media_id_valid(meta_media_id)
    media = Media.objects.create(
        organization_id=message.organization_id,
        message=message,
        meta_media_id=str(meta_media_id)[:128] if fetchable else "",
        mime_type=str(content.get("mime_type", ""))[:128],
        sha256=str(content.get("sha256", ""))[:128],
        filename=str(content.get("filename", ""))[:255],
        state=Media.State.PENDING if fetchable else Media.State.FAILED,
        error="" if fetchable else str(_MEDIA_ID_REFUSED if meta_media_id not in ("", None) else _MEDIA_ID_MISSING),
    )
    if not fetchable:
        return media
    try:
        from apps.media.tasks import mirror_media
    except ImportError:  # the media app's tasks are optional in a partial install
        logger.warning("apps.media.tasks.mirror_media is unavailable; media %s stays pending", media.pk)
        return media
    enqueue(mirror_media, media.id)
    return media


def _opt_keywords(*, organization, contact, conversation, message: Message) -> None:
    match = conversation_services.opt_keyword_match(organization=organization, text=message.text)
    if match == "out":
        conversation_services.contact_opt_out(
            contact=contact, reason=f"keyword: {message.text.strip()}", at=message.timestamp, conversation=conversation
        )
    elif match == "in":
        conversation_services.contact_opt_in(
            contact=contact, reason=f"keyword: {message.text.strip()}", conversation=conversation
        )


def reaction_receive(*, number, event) -> Reaction | None:
    """A customer's reaction: added, changed, or removed (an empty emoji). Kept per
    (number, target, reactor); an older reaction never overwrites a newer one."""
    target = fit(Reaction, "target_wamid", event.content.get("message_id"))
    if not target:
        return None
    emoji = fit(Reaction, "emoji", event.content.get("emoji") or "")
    # Only a message of the reactor's own chat: a reaction never lands in another's conversation.
    message = (Message.objects.filter(_from_sender(event), number=number, wamid=target)
               .select_related("conversation").first())
    reaction = Reaction.objects.filter(number=number, target_wamid=target, reactor=event.sender).first()
    changed = False
    if reaction is None:
        if not emoji:
            return None  # removing a reaction we never saw
        try:
            with transaction.atomic():
                reaction = Reaction.objects.create(
                    organization_id=number.organization_id,
                    number=number,
                    target_wamid=target,
                    message=message,
                    direction=Direction.INBOUND,
                    reactor=event.sender,
                    emoji=emoji,
                    reacted_at=event.timestamp,
                )
                changed = True
        except IntegrityError:
            reaction = Reaction.objects.get(number=number, target_wamid=target, reactor=event.sender)
    if not changed:
        newer = Reaction.objects.filter(pk=reaction.pk, reacted_at__lt=event.timestamp)
        if emoji:
            changed = bool(newer.update(emoji=emoji, reacted_at=event.timestamp))
        else:
            changed = bool(newer.delete()[0])
    if changed and message is not None:
        message_publish(message, event="message.updated")
    return reaction


def message_edit_receive(*, number, event) -> InboundResult:
    """The customer edited a message: the original takes the new content, its
    previous content is kept in edit_history. Applying the same edit twice, or an
    older edit after a newer one, changes nothing."""
    original_wamid = str(event.content.get("original_message_id", ""))
    new = event.content.get("message") if isinstance(event.content.get("message"), dict) else {}
    kind = str(new.get("type") or "text")
    kind_content = new.get(kind) if isinstance(new.get(kind), dict) else {}
    message_type, content, text = message_content(kind, kind_content, new)
    with transaction.atomic():
        # Only the customer's own message: an edit never changes another's conversation.
        original = (
            Message.objects.select_for_update(of=("self",)).filter(
                _from_sender(event), number=number, wamid=original_wamid, direction=Direction.INBOUND,
            ).first()
            if original_wamid else None
        )
        if original is None:
            # The original is unknown (not received, or sent before we were connected):
            # keep the edited text as a message of its own rather than lose it.
            if Message.objects.filter(number=number, wamid=event.wamid).exists():
                return InboundResult(message=None, created=False)
            edited = dataclasses.replace(event, type=kind, content=kind_content, raw=new)
            return _receive_one(number=number, event=edited, extra_content={"edit_of": original_wamid})
        if any(entry.get("wamid") == event.wamid for entry in original.edit_history):
            return InboundResult(message=original, created=False)
        if original.edited_at is not None and original.edited_at > event.timestamp:
            # An older edit arriving late: history only.
            original.edit_history = [*original.edit_history, {
                "wamid": event.wamid, "content": content, "text": text, "edited_at": event.timestamp.isoformat(),
            }]
            original.save(update_fields=["edit_history"])
            return InboundResult(message=original, created=False)
        original.edit_history = [*original.edit_history, {
            "wamid": event.wamid,
            "content": original.content,
            "text": original.text,
            "edited_at": (original.edited_at or original.timestamp).isoformat(),
        }]
        original.content, original.text, original.edited_at = content, text, event.timestamp
        original.save(update_fields=["edit_history", "content", "text", "edited_at"])
    message_publish(original, event="message.updated")
    return InboundResult(message=original, created=False)


def message_revoke_receive(*, number, event) -> Message | None:
    """The customer deleted a message for everyone: shown as deleted; its content is
    kept only when the organisation keeps revoked content for audit."""
    original_wamid = str(event.content.get("original_message_id", ""))
    if not original_wamid:
        return None
    keep = number.organization.keep_revoked_content
    changes = {"status": Status.DELETED, "deleted_at": event.timestamp}
    if not keep:
        changes.update(content={}, text="", edit_history=[])
    updated = Message.objects.filter(
        ~Q(status=Status.DELETED), _from_sender(event),  # the customer's own message only
        number=number, wamid=original_wamid, direction=Direction.INBOUND,
    ).update(**changes)
    if not updated:
        return None
    message = Message.objects.select_related("conversation").get(number=number, wamid=original_wamid)
    message_publish(message, event="message.updated")
    return message

