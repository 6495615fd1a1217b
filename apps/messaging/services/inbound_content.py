"""What a customer's message is made of, as we store it: our type, content and
searchable text from Meta's message object, its preview, and the strings of an
inbound event cut to the columns they are stored in (`event_fit`)."""

from __future__ import annotations

import dataclasses
import json

from django.utils.translation import gettext_lazy as _

from apps.providers.meta.capabilities import CAPABILITIES
from apps.providers.meta.parser import clean_strings

from ..models import Message, MessageType, Status

# Meta's types that map one to one onto ours.
DIRECT_TYPES = {
    "text": MessageType.TEXT,
    "image": MessageType.IMAGE,
    "video": MessageType.VIDEO,
    "audio": MessageType.AUDIO,
    "document": MessageType.DOCUMENT,
    "sticker": MessageType.STICKER,
    "location": MessageType.LOCATION,
    "contacts": MessageType.CONTACTS,
    "interactive": MessageType.INTERACTIVE,
    "button": MessageType.BUTTON,
    "order": MessageType.ORDER,
    "system": MessageType.SYSTEM,
    "request_welcome": MessageType.REQUEST_WELCOME,
    "unsupported": MessageType.UNSUPPORTED,
}
# The types whose file is mirrored: Meta's media kinds.
MEDIA_KINDS = frozenset(CAPABILITIES.media_kinds)

PREVIEW_LABELS = {
    MessageType.IMAGE: _("Photo"),
    MessageType.VIDEO: _("Video"),
    MessageType.AUDIO: _("Audio"),
    MessageType.DOCUMENT: _("Document"),
    MessageType.STICKER: _("Sticker"),
    MessageType.LOCATION: _("Location"),
    MessageType.CONTACTS: _("Contact card"),
    MessageType.ORDER: _("Order"),
    MessageType.REQUEST_WELCOME: _("Opened the chat"),
    MessageType.UNSUPPORTED: _("Unsupported message"),
    MessageType.CALL: _("Call"),
}


# --- Content -----------------------------------------------------------------------


def message_content(kind: str, content: dict, raw: dict) -> tuple[str, dict, str]:
    """Our (type, content, text) for Meta's message type `kind` and its object."""
    message_type = DIRECT_TYPES.get(kind)
    if message_type is None:  # a type Meta added after this code: keep it raw
        return MessageType.UNSUPPORTED, {"original_type": kind, "message": raw}, ""
    content = dict(content)
    if message_type == MessageType.INTERACTIVE:
        nfm = content.get("nfm_reply")
        if isinstance(nfm, dict) and isinstance(nfm.get("response_json"), str):
            try:
                # JSON inside the JSON: its escapes can make what the parser removed.
                content["nfm_reply"] = {**nfm, "response": clean_strings(json.loads(nfm["response_json"]))}
            except ValueError:
                pass
    if message_type == MessageType.UNSUPPORTED:
        content = {**content, "original_type": kind, "message": raw}
    return message_type, content, message_text(message_type, content)


def message_text(message_type: str, content: dict) -> str:
    """The searchable text of a message: body, caption, title, names..."""
    if message_type == MessageType.TEXT:
        return str(content.get("body", ""))
    if message_type in (MessageType.IMAGE, MessageType.VIDEO):
        return str(content.get("caption", ""))
    if message_type == MessageType.DOCUMENT:
        return " ".join(p for p in (str(content.get("caption", "")), str(content.get("filename", ""))) if p)
    if message_type == MessageType.LOCATION:
        return " ".join(str(content[k]) for k in ("name", "address") if content.get(k))
    if message_type == MessageType.CONTACTS:
        names = []
        for card in content.get("contacts", []):
            if isinstance(card, dict):
                name = card.get("name") or {}
                names.append(str(name.get("formatted_name") or name.get("first_name") or ""))
        return ", ".join(n for n in names if n)
    if message_type == MessageType.INTERACTIVE:
        kind = content.get("type", "")
        reply = content.get(kind) if isinstance(content.get(kind), dict) else {}
        parts = [reply.get("title"), reply.get("description"), reply.get("body")]
        return " — ".join(str(p) for p in parts if p)
    if message_type == MessageType.BUTTON:
        return str(content.get("text") or content.get("payload") or "")
    if message_type in (MessageType.ORDER, MessageType.SYSTEM):
        return str(content.get("text") or content.get("body") or "")
    return ""


def message_preview(message: Message) -> str:
    if message.status == Status.DELETED:
        return str(_("This message was deleted"))
    if message.text:
        return message.text
    if message.type == MessageType.AUDIO and message.content.get("voice"):
        return str(_("Voice message"))
    if message.type == MessageType.INTERACTIVE and message.content.get("type") == "call_permission_reply":
        reply = message.content.get("call_permission_reply") or {}
        accepted = isinstance(reply, dict) and str(reply.get("response", "")).lower() == "accept"
        return str(_("Calls allowed") if accepted else _("Calls declined"))
    return str(PREVIEW_LABELS.get(message.type, message.get_type_display()))


# --- Fitting an event to its columns ----------------------------------------------------
# The parser has already removed what no column can hold (NUL, lone surrogates:
# apps.providers.meta.parser.clean_strings); what is left to bound is length. A value
# longer than its column would make the INSERT fail on PostgreSQL, and the
# customer's message be retried until dead letter.


def fit(model, field: str, value) -> str:
    """`value` as a string cut to the max_length of `model`'s `field`."""
    return str("" if value is None else value)[: model._meta.get_field(field).max_length]


def _limits() -> dict[str, int]:
    from apps.conversations.models import Contact

    from ..models import Reaction

    def length(model, name):
        return model._meta.get_field(name).max_length

    return {
        "wamid": length(Message, "wamid"),
        "reply_to_wamid": length(Message, "reply_to_wamid"),
        # A contact's phone is "+" and the wa_id; a reaction's reactor is the wa_id.
        "from_wa_id": min(length(Contact, "wa_id"), length(Contact, "phone") - 1, length(Reaction, "reactor")),
        "from_user_id": min(length(Contact, "user_id"), length(Reaction, "reactor")),
        "parent_user_id": length(Contact, "parent_user_id"),
        "username": length(Contact, "username"),
        "profile_name": length(Contact, "profile_name"),
    }


_LIMITS: dict[str, int] = {}


def event_fit(event):
    """`event` (apps.providers.events.InboundMessage) with the strings stored in bounded
    columns (its wamid, reply context, sender and profile name) cut to them: the same
    event whenever nothing is too long. Every inbound use-case starts with it, so a
    cut wamid is the message's id for every later look-up and retry."""
    if not _LIMITS:
        _LIMITS.update(_limits())
    changes = {name: getattr(event, name)[:limit] for name, limit in _LIMITS.items()
               if len(getattr(event, name)) > limit}
    return dataclasses.replace(event, **changes) if changes else event
