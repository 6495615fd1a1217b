"""The one send use-case, whichever door the request came in by (inbox, API, bot).

`message_send` validates against Meta's limits, the 24-hour window and the
contact's opt-outs before anything is stored; then, in one transaction, stores the
message as pending, announces it, and enqueues the send task on commit. The
request never waits for Meta: a task does the call (apps/messaging/sending/).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.conversations.identity import wa_id_normalise
from apps.conversations.models import ContactBlock
from apps.conversations.services import contact_for_phone, conversation_get_or_open, conversation_publish
from apps.core import params
from apps.core.tasks import enqueue
from apps.realtime import groups
from apps.realtime.publish import publish

from ..account_health import restriction_for_send, restriction_text
from ..models import Author, Direction, Message, Status
from ..serializers import MessageSerializer
from ..sql import conversation_read_mark
from ..validation import MEDIA_KINDS, SendError, build_payload, preview_text


def _approved_templates(conversation) -> list[dict]:
    from apps.message_templates.models import MessageTemplate

    templates = MessageTemplate.objects.filter(
        organization_id=conversation.organization_id, status=MessageTemplate.Status.APPROVED
    )
    if conversation.number.waba_id:
        templates = templates.filter(waba_id=conversation.number.waba_id)
    return [{"name": t.name, "language": t.language, "category": t.category} for t in templates.order_by("name")]


def template_validate(*, organization_id: int, number, payload: dict):
    """Check a template send against the stored template; return (template, content,
    rendered text). The template rules live in apps/message_templates/render/."""
    from apps.message_templates.render import template_payload_render

    return template_payload_render(organization_id=organization_id, number=number, payload=payload)


def _check_recipient(conversation, *, kind: str, template=None) -> None:
    contact = conversation.contact
    if contact.opted_out:
        raise SendError(
            "to", "opted_out",
            _("%(contact)s opted out of messages from this business (%(reason)s); nothing is sent.")
            % {"contact": contact.display_name, "reason": contact.opt_out_reason or _("no reason given")},
        )
    if contact.pk and ContactBlock.objects.filter(contact_id=contact.pk, number_id=conversation.number_id).exists():
        raise SendError(
            "to", "blocked",
            _("%(contact)s is blocked on this number: WhatsApp delivers nothing to them. A supervisor may unblock "
              "them.") % {"contact": contact.display_name},
        )
    if template is not None and template.category == "MARKETING" and contact.marketing_opted_out:
        raise SendError(
            "template.name", "marketing_opted_out",
            _("%(contact)s stopped marketing messages; send a utility template or wait for them to write.")
            % {"contact": contact.display_name},
        )
    window_open = conversation.window_open()
    restriction = restriction_for_send(conversation.number, window_open=window_open)
    if restriction is not None:
        raise SendError("number", "restricted", restriction_text(restriction))
    if kind != "template" and not window_open:
        raise SendError(
            "type", "window_closed",
            _("More than 24 hours since the customer last wrote: only an approved template can be sent."),
            extra={"templates": _approved_templates(conversation)},
        )


def _resolve_media(organization_id: int, kind: str, payload: dict, content: dict):
    """Our Media row named by payload["media"] (its Meta id, when uploaded already)."""
    from apps.media.models import Media

    media_pk = payload.get("media")
    if not media_pk:
        return None
    media = Media.objects.filter(pk=media_pk, organization_id=organization_id).first()
    if media is None:
        raise SendError(f"{kind}.media", "not_found", _("No such media file."))
    if media.message_id is not None:
        raise SendError(f"{kind}.media", "in_use", _("This media file belongs to another message."))
    if not media.meta_media_id and not media.file:
        raise SendError(f"{kind}.media", "invalid", _("This media file has no content."))
    # The Meta id is settled by the send task: an uploaded id may be stale by then.
    content.pop("id", None)
    if kind == "document" and "filename" not in content and media.filename:
        content["filename"] = media.filename
    return media


def message_send(
    *,
    conversation,
    author=None,
    author_type: str = Author.AGENT,
    kind: str,
    payload: dict,
    reply_to: Message | None = None,
    idempotency_key: str = "",
) -> Message:
    """Validate, store as pending, publish, and enqueue the send. Raises SendError."""
    from ..sending import send_enqueue

    organization_id = conversation.organization_id
    if idempotency_key:
        if len(idempotency_key) > 128:
            raise SendError("idempotency_key", "too_long", _("idempotency_key is at most 128 characters."))
        existing = Message.objects.filter(organization_id=organization_id, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing

    content = build_payload(kind, payload)
    if kind == "contacts":  # stored as an object like every other type
        content = {"contacts": content}
    template = None
    rendered = ""
    if kind == "template":
        template, content, rendered = template_validate(
            organization_id=organization_id, number=conversation.number, payload=payload
        )
    _check_recipient(conversation, kind=kind, template=template)

    media = _resolve_media(organization_id, kind, payload, content) if kind in MEDIA_KINDS else None
    target = None
    if kind == "reaction":
        try:  # whichever door: an id of ours, ASCII digits up to bigint (apps/core/params.py)
            target = params.positive_id(payload.get("message"), field="reaction.message")
        except params.BadParameter:
            target = None
        target = Message.objects.filter(pk=target, conversation=conversation).first() if target else None
        if target is None or not target.wamid:
            raise SendError("reaction.message", "not_found", _("React to a message of this conversation that reached WhatsApp."))
        target.conversation = conversation
        content = {"message_id": target.wamid, "emoji": content["emoji"]}
    if reply_to is not None:
        if reply_to.conversation_id != conversation.pk or not reply_to.wamid:
            raise SendError("reply_to", "invalid", _("Reply to a message of this conversation that reached WhatsApp."))

    text = rendered if kind == "template" else preview_text(kind, content)
    now = timezone.now()
    try:
        with transaction.atomic():
            message = Message.objects.create(
                organization_id=organization_id,
                conversation=conversation,
                number_id=conversation.number_id,
                direction=Direction.OUTBOUND,
                author_type=author_type,
                author=author,
                type=kind,
                content=content,
                text=text,
                reply_to=reply_to,
                reply_to_wamid=reply_to.wamid if reply_to is not None else "",
                status=Status.PENDING,
                timestamp=now,
                idempotency_key=idempotency_key,
            )
            if media is not None:
                type(media).objects.filter(pk=media.pk, message__isnull=True).update(message=message)
            if target is not None:
                business_reaction_set(target=target, emoji=content["emoji"], at=now)
            _conversation_touch(conversation, message=message, now=now)
            publish("message.created", MessageSerializer(message).data, groups=groups.conversation_groups(conversation))
            send_enqueue(message)
    except IntegrityError:
        if idempotency_key:  # a concurrent request with the same key won
            return Message.objects.get(organization_id=organization_id, idempotency_key=idempotency_key)
        raise
    return message


BUSINESS_REACTOR = "business"


def business_reaction_set(*, target: Message, emoji: str, at) -> None:
    """The business's reaction to `target`, kept under it as a customer's is (one per
    message; an empty emoji removes it), and the message announced with it. The
    reaction's own message only carries it to WhatsApp: the thread does not show it
    unless it failed. Call inside the send's transaction."""
    from ..models import Reaction

    if emoji:
        Reaction.objects.update_or_create(
            number_id=target.number_id, target_wamid=target.wamid, reactor=BUSINESS_REACTOR,
            defaults={"organization_id": target.organization_id, "message": target,
                      "direction": Direction.OUTBOUND, "emoji": emoji, "reacted_at": at},
        )
    else:
        Reaction.objects.filter(number_id=target.number_id, target_wamid=target.wamid,
                                reactor=BUSINESS_REACTOR).delete()
    publish("message.updated", MessageSerializer(target).data, groups=groups.conversation_groups(target.conversation))


def _conversation_touch(conversation, *, message: Message, now) -> None:
    from apps.conversations.services import conversation_record_outbound

    from .inbound_content import message_preview

    conversation_record_outbound(conversation=conversation, at=now, preview=message_preview(message),
                                 answers=message.author_type == Author.AGENT)
    conversation_publish(conversation)


def message_send_to_phone(
    *,
    organization,
    number,
    to: str,
    author=None,
    author_type: str = Author.INTEGRATION,
    kind: str,
    payload: dict,
    reply_to_id: int | None = None,
    idempotency_key: str = "",
) -> Message:
    """The integration API's door: a phone and a number instead of a conversation.
    Contact and conversation are created when new; the phone finds its contact in
    any form of the line (a Brazilian number with or without the ninth digit, a
    Mexican one with or without the 1: conversations.identity)."""
    wa_id = wa_id_normalise(to)
    if not 8 <= len(wa_id) <= 15:
        raise SendError("to", "invalid", _("to must be a phone number in international format (8 to 15 digits)."))
    if number.organization_id != organization.pk:
        raise SendError("number", "not_found", _("No such number."))
    if idempotency_key:
        existing = Message.objects.filter(organization_id=organization.pk, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    # Validate the content before creating anyone, so a refusal leaves no trace.
    build_payload(kind, payload)
    # One transaction: a send refused later (window, template, opt-out) leaves no
    # new contact or conversation behind.
    with transaction.atomic():
        contact = contact_for_phone(organization=organization, phone=wa_id)
        conversation, _created = conversation_get_or_open(contact=contact, number=number)
        reply_to = None
        if reply_to_id:
            reply_to = Message.objects.filter(pk=reply_to_id, conversation=conversation).first()
            if reply_to is None:
                raise SendError("reply_to", "not_found", _("No such message in this conversation."))
        return message_send(
            conversation=conversation, author=author, author_type=author_type, kind=kind, payload=payload,
            reply_to=reply_to, idempotency_key=idempotency_key,
        )


def message_retry(*, message: Message, user) -> Message:
    """The agent's retry of a failed outbound message, where a retry can help
    (transient and token errors, an interrupted send, media errors, ...)."""
    from apps.accounts import access
    from apps.providers.meta.errors import RETRY_CAN_HELP_CODES

    from ..sending import INTERRUPTED_TITLE

    if user is not None and not access.can_act_on_conversation(user, message.conversation):
        raise SendError("message", "forbidden", _("You cannot act on this conversation."))
    if message.direction != Direction.OUTBOUND or message.status != Status.FAILED or message.wamid:
        raise SendError("message", "not_failed", _("Only a failed message that never reached WhatsApp can be retried."))
    if message.error_code is not None and message.error_code not in RETRY_CAN_HELP_CODES:
        raise SendError(
            "message", "retry_cannot_help",
            _("WhatsApp refused this message (%(code)s: %(title)s); sending it again would fail the same way.")
            % {"code": message.error_code, "title": message.error_title},
        )
    if message.error_code is None and message.error_title not in (INTERRUPTED_TITLE, "Send error", "No message id", ""):
        raise SendError("message", "retry_cannot_help", _("This message cannot be retried."))
    with transaction.atomic():
        updated = Message.objects.filter(pk=message.pk, status=Status.FAILED, wamid__isnull=True).update(
            status=Status.PENDING, failed_at=None, error_code=None, error_title="", error_message="",
            error_details="", send_started_at=None, next_attempt_at=None, send_attempts=0,
        )
        if not updated:
            raise SendError("message", "not_failed", _("This message is no longer failed."))
        message.refresh_from_db()
        publish("message.updated", MessageSerializer(message).data, groups=groups.conversation_groups(message.conversation))
        enqueue("messaging.send_message", message.pk)
    return message


def conversation_mark_read(*, conversation, user) -> int:
    """The agent opened the conversation: reset its unread count and, when the
    organisation wants it, tell Meta the customer's unread messages were read
    (one receipt for the latest marks the earlier ones read too). Returns the
    number of messages marked. One statement (apps.messaging.sql.conversation_read_mark),
    which writes nothing when nothing is unread (the common case of a page opened again)."""
    from apps.accounts import access

    if not access.can_view_conversation(user, conversation):
        raise SendError("conversation", "forbidden", _("You cannot see this conversation."))
    count, latest, reset = conversation_read_mark(conversation_id=conversation.pk, at=timezone.now())
    conversation.unread_count = 0
    if reset:
        conversation_publish(conversation)
    if latest is not None and conversation.organization.mark_read_on_open:
        enqueue("messaging.mark_read", conversation.number_id, latest)
    return count


TYPING_THROTTLE_SECONDS = 20


def typing_indicator_send(*, conversation, user) -> bool:
    """Show the customer that an agent is typing (at most once per ~20 s per
    conversation, through the read receipt of their latest message). True when sent.
    Meta shows typing only with a read receipt: an organisation that does not send
    read receipts (`mark_read_on_open` off) shows no typing either."""
    from django.core.cache import cache

    from apps.accounts import access

    if not access.can_act_on_conversation(user, conversation):
        raise SendError("conversation", "forbidden", _("You cannot act on this conversation."))
    if not conversation.organization.mark_read_on_open:
        return False
    latest = (
        Message.objects.filter(conversation=conversation, direction=Direction.INBOUND)
        .exclude(wamid__isnull=True).order_by("-timestamp", "-id").first()
    )
    if latest is None or not conversation.window_open():
        return False
    if not cache.add(f"typing:{conversation.pk}", 1, timeout=TYPING_THROTTLE_SECONDS):
        return False
    enqueue("messaging.mark_read", conversation.number_id, latest.wamid, typing=True)
    return True
