"""Meta's webhook JSON → typed events. A pure function: no database, no settings.

Every entry, every change and every item of a change is visited; an item whose
shape is wrong becomes a `Malformed` event instead of stopping the rest.

Every string of a delivery (values and keys, at any depth) is cleaned here, once,
of what no database column can hold: NUL (PostgreSQL refuses it in text and
jsonb) and lone surrogates (not encodable as UTF-8). A customer's message with
such a character is stored without it instead of failing until dead letter.
"""

from __future__ import annotations

import json
import re

from ..base import UnusableBody
from ..events import (
    AccountNotice,
    Event,
    InboundMessage,
    Malformed,
    StatusUpdate,
    TemplateUpdate,
    UserPreference,
    ValueErrors,
)
from .fields import parse_calls, parse_echoes, parse_history, parse_state_sync
from .values import _list, _number_of, _str, parse_timestamp

OBJECT = "whatsapp_business_account"
TEMPLATE_FIELDS = {"message_template_status_update", "message_template_quality_update", "template_category_update",
                   "message_template_components_update"}
ACCOUNT_FIELDS = {
    "phone_number_quality_update",
    "account_update",
    "account_alerts",
    "account_review_update",
    "business_capability_update",
    "phone_number_name_update",
    "security",
}


class ParseError(UnusableBody):
    """The delivery as a whole is not a WhatsApp Business Account webhook."""


# A media id as Meta issues them: digits only, bounded. Anything else is never
# fetched (it would become a path or a URL called with the number's token).
_MEDIA_ID = re.compile(r"[0-9]{1,32}", re.ASCII)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The same characters as json.dumps(ensure_ascii=False) writes them: NUL escaped
# (after an even run of backslashes: an odd one is a text's own backslash and "u0000"), surrogates raw.
_UNSTORABLE_JSON = re.compile(r"(?<!\\)(?:\\\\)*\\u0000|[\ud800-\udfff]")
# In a body's JSON text, the only way to write a NUL or a surrogate (json.loads takes
# neither raw in a UTF-8 string). Also matches an escaped backslash before "u0000" or a
# valid surrogate pair: those bodies are simply cleaned the long way.
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def media_id_valid(value) -> bool:
    """Whether `value` has the shape of Meta's media ids."""
    if isinstance(value, bool):
        return False
    text = str(value) if isinstance(value, int) else value
    return isinstance(text, str) and _MEDIA_ID.fullmatch(text) is not None


def clean_text(value: str) -> str:
    """`value` without NUL and lone surrogates."""
    return _UNSTORABLE.sub("", value)


def clean_strings(value):
    """`value` (JSON: dicts, lists, strings...) with every string cleaned (clean_text).
    Returned as is when there is nothing to clean, which one pass over its JSON tells."""
    try:
        dumped = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        dumped = None
    if dumped is not None and not _UNSTORABLE_JSON.search(dumped):
        return value
    return _clean(value)


def _clean(value):
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {_clean(k) if isinstance(k, str) else k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def _clean_as_sent(body: bytes | None) -> bool:
    """Whether the UTF-8 JSON text `body` cannot hold a NUL or a surrogate (a NUL byte
    means another encoding, or no JSON: not trusted)."""
    return body is not None and b"\x00" not in body and not _UNSTORABLE_ESCAPE.search(body)


def parse_webhook(payload, *, body: bytes | None = None) -> list[Event]:
    """All events of one delivery, in the order Meta listed them. `body`: the JSON
    text `payload` was decoded from, when the caller has it: a body with no escape
    that can write a NUL or a surrogate is not walked for them."""
    if not isinstance(payload, dict):
        raise ParseError("the body is not a JSON object")
    if payload.get("object") != OBJECT:
        raise ParseError(f"object is {payload.get('object')!r}, not {OBJECT!r}")
    if not _clean_as_sent(body):
        payload = clean_strings(payload)
    events: list[Event] = []
    for e, entry in enumerate(_list(payload.get("entry"))):
        if not isinstance(entry, dict):
            events.append(Malformed(path=f"entry[{e}]", waba_id="", raw={"entry": entry}, reason="entry is not an object"))
            continue
        waba_id = _str(entry.get("id"))
        for c, change in enumerate(_list(entry.get("changes"))):
            path = f"entry[{e}].changes[{c}]"
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                events.append(Malformed(path=path, waba_id=waba_id, raw={"change": change}, reason="change has no value"))
                continue
            events.extend(parse_change(change, waba_id=waba_id, entry_time=entry.get("time"), path=path))
    return events


def parse_change(change: dict, *, waba_id: str, entry_time=None, path: str = "") -> list[Event]:
    field = _str(change.get("field"))
    value = change["value"]
    if field == "messages":
        return _parse_messages_value(value, waba_id=waba_id, path=path)
    if field == "user_preferences":
        # Some deliveries carry user_preferences under field "messages"; both are handled
        # by _parse_messages_value, this is the dedicated field.
        return _parse_messages_value(value, waba_id=waba_id, path=path)
    if field == "smb_message_echoes":
        return parse_echoes(value, waba_id=waba_id, path=path)
    if field == "history":
        return parse_history(value, waba_id=waba_id, path=path)
    if field == "smb_app_state_sync":
        return parse_state_sync(value, waba_id=waba_id, path=path)
    if field == "calls":
        return parse_calls(value, waba_id=waba_id, path=path)
    if field in TEMPLATE_FIELDS:
        return [TemplateUpdate(path=path, waba_id=waba_id, raw=change, field=field, value=value, entry_time=entry_time)]
    return [
        AccountNotice(
            path=path,
            waba_id=waba_id,
            raw=change,
            field=field,
            event=_str(value.get("event")),
            value=value,
            entry_time=entry_time,
            display_phone_number=_str(value.get("display_phone_number")),
        )
    ]


def _parse_messages_value(value: dict, *, waba_id: str, path: str) -> list[Event]:
    number = _number_of(value, waba_id)
    # The delivery's contacts, found by wa_id and by user id (a customer with a username
    # may come with only the latter).
    profiles: dict[str, dict] = {}
    for contact in _list(value.get("contacts")):
        if not isinstance(contact, dict):
            continue
        profile = contact.get("profile") if isinstance(contact.get("profile"), dict) else {}
        card = {"wa_id": _str(contact.get("wa_id")), "user_id": _str(contact.get("user_id")),
                "parent_user_id": _str(contact.get("parent_user_id")), "name": _str(profile.get("name")),
                "username": _str(profile.get("username") or contact.get("username"))}
        for key in (card["wa_id"], card["user_id"]):
            if key:
                profiles[key] = card
    events: list[Event] = []
    for i, message in enumerate(_list(value.get("messages"))):
        events.append(parse_message(message, profiles=profiles, path=f"{path}.messages[{i}]", **number))
    for i, status in enumerate(_list(value.get("statuses"))):
        events.append(parse_status(status, path=f"{path}.statuses[{i}]", profiles=profiles, **number))
    for i, pref in enumerate(_list(value.get("user_preferences"))):
        events.append(_parse_preference(pref, path=f"{path}.user_preferences[{i}]", **number))
    errors = _list(value.get("errors"))
    if errors:
        events.append(ValueErrors(path=f"{path}.errors", raw=value, errors=errors, **number))
    return events


def parse_message(message, *, profiles: dict, path: str, waba_id: str, phone_number_id: str,
                  display_phone_number: str) -> Event:
    number = {"waba_id": waba_id, "phone_number_id": phone_number_id, "display_phone_number": display_phone_number}
    if not isinstance(message, dict):
        return Malformed(path=path, waba_id=waba_id, raw={"message": message}, reason="message is not an object")
    wamid, sender, user_id = _str(message.get("id")), _str(message.get("from")), _str(message.get("from_user_id"))
    timestamp = parse_timestamp(message.get("timestamp"))
    if not wamid or not (sender or user_id) or timestamp is None:
        return Malformed(path=path, waba_id=waba_id, raw=message,
                         reason="message lacks id, timestamp, or both from and from_user_id",
                         extra={"phone_number_id": phone_number_id})
    card = profiles.get(sender) or profiles.get(user_id) or {}
    kind = _str(message.get("type")) or "unknown"
    content = message.get(kind)
    if kind == "contacts":
        content = {"contacts": _list(content)}
    elif not isinstance(content, dict):
        content = {}
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    return InboundMessage(
        path=path,
        raw=message,
        wamid=wamid,
        from_wa_id=sender,
        from_user_id=user_id or card.get("user_id", ""),
        parent_user_id=card.get("parent_user_id", ""),
        username=card.get("username", ""),
        profile_name=card.get("name", ""),
        timestamp=timestamp,
        type=kind,
        content=content,
        reply_to_wamid=_str(context.get("id")),
        forwarded=bool(context.get("forwarded")),
        frequently_forwarded=bool(context.get("frequently_forwarded")),
        referred_product=context.get("referred_product") if isinstance(context.get("referred_product"), dict) else None,
        referral=message.get("referral") if isinstance(message.get("referral"), dict) else None,
        errors=_list(message.get("errors")) or None,
        **number,
    )


def parse_status(status, *, path: str, waba_id: str, phone_number_id: str, display_phone_number: str,
                 profiles: dict | None = None) -> Event:
    """One status. The customer's business-scoped user id comes as the status's
    `recipient_user_id`, or in the delivery's contact of the recipient (`profiles`)."""
    number = {"waba_id": waba_id, "phone_number_id": phone_number_id, "display_phone_number": display_phone_number}
    if not isinstance(status, dict):
        return Malformed(path=path, waba_id=waba_id, raw={"status": status}, reason="status is not an object")
    wamid, state = _str(status.get("id")), _str(status.get("status")).lower()
    timestamp = parse_timestamp(status.get("timestamp"))
    if not wamid or not state or timestamp is None:
        return Malformed(path=path, waba_id=waba_id, raw=status, reason="status lacks id, status or timestamp",
                         extra={"phone_number_id": phone_number_id})
    recipient = _str(status.get("recipient_id"))
    card = (profiles or {}).get(recipient) or {}
    return StatusUpdate(
        path=path,
        raw=status,
        wamid=wamid,
        status=state,
        timestamp=timestamp,
        recipient_id=recipient,
        recipient_user_id=_str(status.get("recipient_user_id")) or card.get("user_id", ""),
        recipient_parent_user_id=_str(status.get("recipient_parent_user_id")) or card.get("parent_user_id", ""),
        conversation=status.get("conversation") if isinstance(status.get("conversation"), dict) else None,
        pricing=status.get("pricing") if isinstance(status.get("pricing"), dict) else None,
        errors=_list(status.get("errors")) or None,
        biz_opaque_callback_data=_str(status.get("biz_opaque_callback_data")),
        **number,
    )


def _parse_preference(pref, *, path: str, waba_id: str, phone_number_id: str, display_phone_number: str) -> Event:
    if not isinstance(pref, dict) or not pref.get("wa_id") or not pref.get("value"):
        return Malformed(path=path, waba_id=waba_id, raw={"preference": pref}, reason="preference lacks wa_id or value")
    return UserPreference(
        path=path,
        raw=pref,
        waba_id=waba_id,
        phone_number_id=phone_number_id,
        display_phone_number=display_phone_number,
        wa_id=_str(pref["wa_id"]),
        category=_str(pref.get("category")),
        value=_str(pref["value"]).lower(),
        timestamp=parse_timestamp(pref.get("timestamp")),
    )

