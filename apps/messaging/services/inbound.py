"""Store what customers send, from parsed webhook events (apps.providers.meta.events).

Idempotent on Meta's ids: a message is inserted under the (number, wamid) unique
constraint inside a savepoint, and a duplicate delivery (Meta's retry, our replay)
changes nothing — no second row, no second unread count, no second event.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.conversations import services as conversation_services
from apps.conversations.identity import Identity
from apps.core.tasks import enqueue
from apps.realtime import groups
from apps.realtime.publish import publish

from ..models import Author, Direction, Message, MessageType, Reaction, Status
from ..serializers import MessageSerializer, message_event_data
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
    """Store one customer message (apps.providers.meta.events.InboundMessage) on `number`."""
    event = event_fit(event)
    if event.type == "reaction":
        reaction_receive(number=number, event=event)
        return InboundResult(message=None, created=False)
    if event.type == "edit":
        return message_edit_receive(number=number, event=event)
    if event.type == "revoke":
        message_revoke_receive(number=number, event=event)
        return InboundResult(message=None, created=False)
    organization = number.organization
    # Fast path for Meta's retries and our replays; the unique constraint below is the
    # authority when two deliveries race.
    existing = Message.objects.filter(number=number, wamid=event.wamid).first()
    if existing is not None:
        return InboundResult(message=existing, created=False)
    message_type, content, text = message_content(event.type, event.content, event.raw)
    return _message_store(
        number=number, organization=organization, event=event, message_type=message_type, content=content, text=text
    )


def _message_store(*, number, organization, event, message_type, content, text, wamid=None) -> InboundResult:
    if event.referred_product:
        content = {**content, "referred_product": event.referred_product}
    contact = conversation_services.contacts_get_or_create_many(
        organization=organization, profiles={event.sender: event.profile_name or ""},
        identities={event.sender: identity_of(event)},
    )[event.sender]
    try:
        with transaction.atomic():
            conversation, how = conversation_services.conversation_for_inbound(contact=contact, number=number)
            reply_to_id = None
            if event.reply_to_wamid:  # only within the conversation: another one's agents may differ
                reply_to_id = (
                    Message.objects.filter(number=number, conversation=conversation, wamid=event.reply_to_wamid)
                    .values_list("id", flat=True).first()
                )
            message = Message.objects.create(
                organization=organization,
                conversation=conversation,
                number=number,
                wamid=wamid or event.wamid,
                direction=Direction.INBOUND,
                author_type=Author.CUSTOMER,
                type=message_type,
                content=content,
                text=text,
                reply_to_id=reply_to_id,
                reply_to_wamid=event.reply_to_wamid,
                forwarded=event.forwarded,
                frequently_forwarded=event.frequently_forwarded,
                referral=event.referral,
                errors=event.errors,
                status=Status.RECEIVED,
                timestamp=event.timestamp,
            )
    except IntegrityError:
        # The same wamid stored by a concurrent delivery: that one did the work.
        return InboundResult(message=Message.objects.filter(number=number, wamid=wamid or event.wamid).first(),
                             created=False)
    message.conversation = conversation
    conversation_services.conversation_record_inbound(
        conversation=conversation, timestamp=event.timestamp, preview=message_preview(message)
    )
    # Reactions that arrived before their message: the customer's own only.
    Reaction.objects.filter(number=number, target_wamid=message.wamid, message__isnull=True,
                            reactor=event.sender).update(message=message)
    if message_type in MEDIA_KINDS:
        _media_create(message=message, content=content)
    if message_type == MessageType.TEXT:
        _opt_keywords(organization=organization, contact=contact, conversation=conversation, message=message)
    conversation.refresh_from_db()
    message_publish(message, event="message.created")
    conversation_services.conversation_publish(
        conversation, event="conversation.created" if how == "created" else "conversation.updated"
    )
    return InboundResult(message=message, created=True)


# Meta's types that a batch stores directly (the others change an existing row).
BATCH_EXCLUDED_TYPES = {"reaction", "edit", "revoke"}


# Column types a batch's varying values can travel as in one JSON document.
_JSON_ROW_TYPES = {
    "CharField", "TextField", "JSONField", "BooleanField", "IntegerField", "BigIntegerField",
    "PositiveIntegerField", "SmallIntegerField", "PositiveSmallIntegerField", "ForeignKey", "DateTimeField",
}


def _insert_new(objs: list[Message]) -> tuple[dict[str, int], set[str]]:
    """INSERT the messages, skipping those whose (number, wamid) is already stored
    (ON CONFLICT DO NOTHING): wamid -> id of the rows this call inserted. The unique
    constraint, not a prior check, decides who stored a message when two workers race.
    Second: the inserted wamids that a reaction of the same number waits for (one that
    arrived before its message).

    The rows travel as one JSON parameter: the values every row shares (number,
    organisation, direction, defaults, the creation time) are bound once, the others
    read from json_to_recordset. The ORM's insert prepared ~40 values per row, one by
    one, and was the largest part of a batch's CPU. The same statement tells which new
    messages a reaction waits for, so a batch without any (nearly all) reads no
    reactions."""
    from django.db import connections, router

    if not objs:
        return {}, set()
    fields = [f for f in Message._meta.concrete_fields if not f.primary_key and not getattr(f, "generated", False)]
    connection = connections[router.db_for_write(Message)]
    template = objs[0]
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = field.pre_save(template, True)  # one creation time for the batch
            for obj in objs:
                setattr(obj, field.attname, value)
    constant, varying = [], []
    for field in fields:
        value = getattr(template, field.attname)
        shared = field.name != "wamid" and all(getattr(obj, field.attname) == value for obj in objs)
        (constant if shared else varying).append(field)
    unfit = {field.get_internal_type() for field in varying} - _JSON_ROW_TYPES
    if unfit:  # a new Message column: teach json_to_recordset its type
        raise TypeError(f"Message columns of type {sorted(unfit)} cannot travel as JSON rows")
    rows = []
    # In wamid order: two drains inserting the same messages (Meta's redeliveries)
    # then wait for each other in one order, never in a cycle (a deadlock).
    for obj in sorted(objs, key=lambda obj: obj.wamid):
        row = {}
        for field in varying:
            value = getattr(obj, field.attname)
            row[field.column] = value.isoformat() if hasattr(value, "isoformat") else value
        rows.append(row)
    qn = connection.ops.quote_name
    select, params = [], []
    for field in fields:
        if field in varying:
            select.append(f"r.{qn(field.column)}")
        else:
            select.append(f"%s::{field.db_type(connection)}")
            params.append(field.get_db_prep_save(getattr(template, field.attname), connection))
    columns = ", ".join(qn(field.column) for field in fields)
    definition = ", ".join(f"{qn(field.column)} {field.db_type(connection)}" for field in varying)
    reaction = Reaction._meta
    waiting = (f"EXISTS (SELECT 1 FROM {qn(reaction.db_table)} AS w "
               f"WHERE w.{qn(reaction.get_field('number').column)} = %s "
               f"AND w.{qn(reaction.get_field('target_wamid').column)} = i.wamid "
               f"AND w.{qn(reaction.get_field('message').column)} IS NULL)")
    sql = (f"WITH i AS (INSERT INTO {qn(Message._meta.db_table)} ({columns}) SELECT {', '.join(select)} "
           f"FROM json_to_recordset(%s::json) AS r({definition}) ON CONFLICT DO NOTHING RETURNING id, wamid) "
           f"SELECT i.id, i.wamid, {waiting} FROM i")
    params.append(json.dumps(rows))
    params.append(template.number_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted, awaited = {}, set()
        for pk, wamid, reaction_waits in cursor.fetchall():
            inserted[wamid] = pk
            if reaction_waits:
                awaited.add(wamid)
        return inserted, awaited


def identity_of(event) -> Identity:
    """Who sent an inbound message (apps.providers.meta.events.InboundMessage)."""
    return Identity(wa_id=event.from_wa_id, user_id=event.from_user_id, parent_user_id=event.parent_user_id,
                    username=event.username)


def _from_sender(event) -> Q:
    """Messages of the conversations of `event`'s sender, found by wa_id, else user id."""
    if event.from_wa_id:
        return Q(conversation__contact__wa_id=event.from_wa_id)
    return Q(conversation__contact__user_id=event.from_user_id)


def messages_receive_batch(*, number, events: list) -> list[Message]:
    """Store many customer messages on `number` at once (apps.providers.meta.events.
    InboundMessage, not reactions, edits or revokes), as `message_receive` stores one:
    contacts, conversations and messages with a few queries for the whole batch, one
    conversation UPDATE and one conversation event per conversation, a message event
    for each new message. Idempotent like the single path. Returns the new messages."""
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
    # Reply contexts, each only within its conversation (as in _message_store).
    replied = {e.reply_to_wamid for e in todo if e.reply_to_wamid}
    reply_ids = {(wamid, conversation_id): pk for wamid, conversation_id, pk in Message.objects.filter(
        number=number, wamid__in=replied).values_list("wamid", "conversation_id", "id")} if replied else {}
    objs = []
    for event in todo:
        message_type, content, text = message_content(event.type, event.content, event.raw)
        if event.referred_product:
            content = {**content, "referred_product": event.referred_product}
        conversation, _how = conversations[contacts[event.sender].pk]
        objs.append(Message(
            organization=organization, conversation=conversation, number=number, wamid=event.wamid,
            direction=Direction.INBOUND, author_type=Author.CUSTOMER, type=message_type, content=content, text=text,
            reply_to_id=reply_ids.get((event.reply_to_wamid, conversation.pk)), reply_to_wamid=event.reply_to_wamid,
            forwarded=event.forwarded, frequently_forwarded=event.frequently_forwarded, referral=event.referral,
            errors=event.errors, status=Status.RECEIVED, timestamp=event.timestamp,
        ))
    inserted, awaited = _insert_new(objs)
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
            content = {**content, "edit_of": original_wamid}
            return _message_store(
                number=number, organization=number.organization, event=event, message_type=message_type,
                content=content, text=text,
            )
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

