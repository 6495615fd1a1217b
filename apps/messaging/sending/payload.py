"""What a send gives Meta: the body of POST /messages, and for a file of ours the
media id that body names."""

from __future__ import annotations

from apps.media.services import media_upload_to_meta

from ..callback_data import callback_data
from ..models import MEDIA_TYPES, Message


def meta_payload(message: Message) -> dict:
    """The body of POST /messages for `message`: to the customer's phone-based wa_id,
    or, for a customer who hides the phone, to Meta's user id (`recipient`). It
    carries our message id for Meta to echo in the message's statuses (a send whose
    answer is lost is settled by them: callback_data.py)."""
    contact = message.conversation.contact
    address = {"to": contact.wa_id} if contact.wa_id else {"recipient": contact.user_id}
    payload = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        **address,
        "type": message.type,
        message.type: message.content.get("contacts") if message.type == "contacts" else message.content,
        "biz_opaque_callback_data": callback_data(message.pk),
    }
    if message.reply_to_wamid:
        payload["context"] = {"message_id": message.reply_to_wamid}
    return payload


def media_upload_if_needed(message: Message):
    """A media message sent from our own file: make sure Meta has it (uploaded ids
    live 30 days; apps.media reuses a fresh one and uploads again otherwise) and
    put the id in the message's content. Returns the file's Media row (None when
    the message names Meta's id or a link)."""
    if message.type not in MEDIA_TYPES:
        return None
    from apps.media.models import Media

    media = Media.objects.filter(message=message).first()
    if media is None:
        return None  # sent by Meta id or by link
    media_id = media_upload_to_meta(media=media, number=message.number)
    content = {**(message.content or {}), "id": media_id}
    content.pop("link", None)
    if content != message.content:
        Message.objects.filter(pk=message.pk).update(content=content)
        message.content = content
    return media
