"""Meta's webhook fields beyond messages and statuses, to typed events: the WhatsApp
Business app's (coexistence) and calls. Pure functions, as the parser."""

from __future__ import annotations

from ..events import (
    AddressBookChange,
    BusinessMessage,
    CallUpdate,
    Event,
    Malformed,
    ValueErrors,
)
from .values import _digits, _list, _number_of, _str, parse_timestamp

# --- Coexistence with the WhatsApp Business app -------------------------------------
# A number onboarded with the Business app kept on the phone: what the business sends
# from the app comes back as `smb_message_echoes` (`message_echoes[]`: `from` the
# business, `to` the customer, the message shapes of inbound messages), the chats the
# app shares on onboarding as `history` (`history[]` chunks: `metadata {phase,
# chunk_order, progress}`, `threads[] {id: the customer, messages[]}` whose messages
# carry `history_context {status}`, or `errors[]` when the business declined to share
# them), and the phone's address book as `smb_app_state_sync` (`state_sync[] {type:
# contact, contact {full_name, first_name, phone_number}, action: add | remove,
# metadata {timestamp}}`).


def _content_of(message: dict) -> tuple[str, dict]:
    kind = _str(message.get("type")) or "unknown"
    content = message.get(kind)
    if kind == "contacts":
        return kind, {"contacts": _list(content)}
    return kind, content if isinstance(content, dict) else {}


def _business_message(
    message,
    *,
    path: str,
    number: dict,
    customer_wa_id: str,
    customer_user_id: str = "",
    outbound: bool,
    imported: bool,
    profile_name: str = "",
    chunk: dict | None = None,
) -> Event:
    wamid, timestamp = (
        _str(message.get("id")),
        parse_timestamp(message.get("timestamp")),
    )
    if not wamid or timestamp is None or not (customer_wa_id or customer_user_id):
        return Malformed(
            path=path,
            waba_id=number["waba_id"],
            raw=message,
            reason="message lacks id, timestamp or its customer",
            extra={"phone_number_id": number["phone_number_id"]},
        )
    kind, content = _content_of(message)
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    history = (
        message.get("history_context")
        if isinstance(message.get("history_context"), dict)
        else {}
    )
    return BusinessMessage(
        path=path,
        raw=message,
        wamid=wamid,
        customer_wa_id=customer_wa_id,
        customer_user_id=customer_user_id,
        timestamp=timestamp,
        type=kind,
        content=content,
        outbound=outbound,
        imported=imported,
        profile_name=profile_name,
        reply_to_wamid=_str(context.get("id")),
        history_status=_str(history.get("status")).lower(),
        chunk=chunk,
        **number,
    )


def parse_echoes(value: dict, *, waba_id: str, path: str) -> list[Event]:
    number = _number_of(value, waba_id)
    names = {}
    for contact in _list(value.get("contacts")):
        if isinstance(contact, dict) and isinstance(contact.get("profile"), dict):
            for key in (_str(contact.get("wa_id")), _str(contact.get("user_id"))):
                if key:
                    names[key] = _str(contact["profile"].get("name"))
    events: list[Event] = []
    for i, echo in enumerate(_list(value.get("message_echoes"))):
        item_path = f"{path}.message_echoes[{i}]"
        if not isinstance(echo, dict):
            events.append(
                Malformed(
                    path=item_path,
                    waba_id=waba_id,
                    raw={"echo": echo},
                    reason="echo is not an object",
                )
            )
            continue
        to, to_user_id = _digits(echo.get("to")), _str(echo.get("to_user_id"))
        events.append(
            _business_message(
                echo,
                path=item_path,
                number=number,
                customer_wa_id=to,
                customer_user_id=to_user_id,
                outbound=True,
                imported=False,
                profile_name=names.get(to) or names.get(to_user_id, ""),
            )
        )
    return events


def parse_history(value: dict, *, waba_id: str, path: str) -> list[Event]:
    number = _number_of(value, waba_id)
    business = _digits(number["display_phone_number"])
    events: list[Event] = []
    for c, chunk in enumerate(_list(value.get("history"))):
        chunk_path = f"{path}.history[{c}]"
        if not isinstance(chunk, dict):
            events.append(
                Malformed(
                    path=chunk_path,
                    waba_id=waba_id,
                    raw={"chunk": chunk},
                    reason="chunk is not an object",
                )
            )
            continue
        meta = chunk.get("metadata") if isinstance(chunk.get("metadata"), dict) else {}
        about = {
            key: meta.get(key)
            for key in ("phase", "chunk_order", "progress")
            if key in meta
        }
        errors = _list(chunk.get("errors"))
        if (
            errors
        ):  # the business declined to share its chats (2593109), or Meta could not
            events.append(
                ValueErrors(
                    path=f"{chunk_path}.errors", raw=chunk, errors=errors, **number
                )
            )
        for t, thread in enumerate(_list(chunk.get("threads"))):
            thread_path = f"{chunk_path}.threads[{t}]"
            if not isinstance(thread, dict):
                events.append(
                    Malformed(
                        path=thread_path,
                        waba_id=waba_id,
                        raw={"thread": thread},
                        reason="thread is not an object",
                    )
                )
                continue
            customer = _digits(thread.get("id"))
            for m, message in enumerate(_list(thread.get("messages"))):
                item_path = f"{thread_path}.messages[{m}]"
                if not isinstance(message, dict):
                    events.append(
                        Malformed(
                            path=item_path,
                            waba_id=waba_id,
                            raw={"message": message},
                            reason="message is not an object",
                        )
                    )
                    continue
                sender = _digits(message.get("from"))
                outbound = bool(sender) and (
                    sender == business or (bool(customer) and sender != customer)
                )
                events.append(
                    _business_message(
                        message,
                        path=item_path,
                        number=number,
                        outbound=outbound,
                        imported=True,
                        chunk=about,
                        customer_wa_id=customer
                        or (_digits(message.get("to")) if outbound else sender),
                    )
                )
    return events


def parse_state_sync(value: dict, *, waba_id: str, path: str) -> list[Event]:
    number = _number_of(value, waba_id)
    events: list[Event] = []
    for i, item in enumerate(_list(value.get("state_sync"))):
        item_path = f"{path}.state_sync[{i}]"
        contact = (
            item.get("contact")
            if isinstance(item, dict) and isinstance(item.get("contact"), dict)
            else None
        )
        action = _str(item.get("action")).lower() if isinstance(item, dict) else ""
        if (
            contact is None
            or item.get("type") != "contact"
            or action not in ("add", "remove")
            or not _digits(contact.get("phone_number"))
        ):
            events.append(
                Malformed(
                    path=item_path,
                    waba_id=waba_id,
                    raw={"state_sync": item},
                    reason="not a contact added or removed with a phone number",
                    extra={"phone_number_id": number["phone_number_id"]},
                )
            )
            continue
        meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        events.append(
            AddressBookChange(
                path=item_path,
                raw=item,
                wa_id=_digits(contact.get("phone_number")),
                action=action,
                full_name=_str(contact.get("full_name")).strip(),
                first_name=_str(contact.get("first_name")).strip(),
                timestamp=parse_timestamp(meta.get("timestamp")),
                **number,
            )
        )
    return events


# --- Calls ------------------------------------------------------------------------------
# Field `calls`: `calls[] {id (wacid.…), from, to, event: connect | terminate, timestamp,
# direction: USER_INITIATED | BUSINESS_INITIATED, session? (the SDP), and on terminate
# status: COMPLETED | FAILED, start_time, end_time, duration}`, the customer in
# `contacts[]`; a business-initiated call's progress as `statuses[] {id, type: call,
# status: RINGING | ACCEPTED | REJECTED, timestamp, recipient_id}`.


def _int_or_none(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def parse_calls(value: dict, *, waba_id: str, path: str) -> list[Event]:
    number = _number_of(value, waba_id)
    names = {}
    for contact in _list(value.get("contacts")):
        if isinstance(contact, dict):
            profile = (
                contact.get("profile")
                if isinstance(contact.get("profile"), dict)
                else {}
            )
            for key in (_str(contact.get("wa_id")), _str(contact.get("user_id"))):
                if key:
                    names[key] = _str(profile.get("name"))
    events: list[Event] = []
    for i, call in enumerate(_list(value.get("calls"))):
        item_path = f"{path}.calls[{i}]"
        if not isinstance(call, dict):
            events.append(
                Malformed(
                    path=item_path,
                    waba_id=waba_id,
                    raw={"call": call},
                    reason="call is not an object",
                )
            )
            continue
        direction = _str(call.get("direction")).upper()
        business_side = "to" if direction != "BUSINESS_INITIATED" else "from"
        customer_side = "from" if business_side == "to" else "to"
        customer, user_id = (
            _digits(call.get(customer_side)),
            _str(call.get(f"{customer_side}_user_id")),
        )
        timestamp, event = (
            parse_timestamp(call.get("timestamp")),
            _str(call.get("event")).lower(),
        )
        if (
            not _str(call.get("id"))
            or timestamp is None
            or event not in ("connect", "terminate")
            or not (customer or user_id)
        ):
            events.append(
                Malformed(
                    path=item_path,
                    waba_id=waba_id,
                    raw=call,
                    reason="call lacks id, timestamp, a known event or its customer",
                    extra={"phone_number_id": number["phone_number_id"]},
                )
            )
            continue
        events.append(
            CallUpdate(
                path=item_path,
                raw=call,
                call_id=_str(call["id"]),
                customer_wa_id=customer,
                customer_user_id=user_id,
                event=event,
                timestamp=timestamp,
                direction=direction,
                status=_str(call.get("status")).upper(),
                start_time=parse_timestamp(call.get("start_time"))
                if call.get("start_time")
                else None,
                end_time=parse_timestamp(call.get("end_time"))
                if call.get("end_time")
                else None,
                duration=_int_or_none(call.get("duration")),
                profile_name=names.get(customer) or names.get(user_id, ""),
                errors=_list(call.get("errors")) or _list(value.get("errors")) or None,
                **number,
            )
        )
    for i, status in enumerate(_list(value.get("statuses"))):
        item_path = f"{path}.statuses[{i}]"
        timestamp = (
            parse_timestamp(status.get("timestamp"))
            if isinstance(status, dict)
            else None
        )
        if (
            not isinstance(status, dict)
            or not _str(status.get("id"))
            or timestamp is None
            or not _str(status.get("recipient_id"))
        ):
            events.append(
                Malformed(
                    path=item_path,
                    waba_id=waba_id,
                    raw={"status": status},
                    reason="call status lacks id, timestamp or recipient",
                    extra={"phone_number_id": number["phone_number_id"]},
                )
            )
            continue
        customer = _digits(status.get("recipient_id"))
        events.append(
            CallUpdate(
                path=item_path,
                raw=status,
                call_id=_str(status["id"]),
                customer_wa_id=customer,
                event="status",
                timestamp=timestamp,
                direction="BUSINESS_INITIATED",
                status=_str(status.get("status")).upper(),
                profile_name=names.get(customer, ""),
                **number,
            )
        )
    return events
