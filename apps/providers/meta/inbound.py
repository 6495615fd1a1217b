"""Meta's webhook deliveries for the inbound pipeline (apps.providers.base)."""

from __future__ import annotations

from ..base import Delivery, Part
from .body import body_payload
from .parser import parse_webhook


def body_parts(payload: dict) -> list[Part]:
    """Whose data each part of a delivery's body is: ("number", phone_number_id) for
    a change naming its business number, ("waba", id) for one about its entry's WABA
    (templates, account notices), ("", "") for a part naming no one. Read from the
    body rather than from the parsed items: a change may carry customers' names with
    no item, and an entry the parser could not read is shown in admin all the same."""
    parts: list[Part] = []
    entries = payload.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            parts.append(("", ""))
            continue
        waba_id = "" if entry.get("id") is None else str(entry["id"])
        changes = entry.get("changes")
        if not isinstance(changes, list):
            changes = [] if changes is None else [None]
        for change in changes:
            value = change.get("value") if isinstance(change, dict) else None
            metadata = value.get("metadata") if isinstance(value, dict) else None
            phone_number_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            if phone_number_id not in (None, ""):
                parts.append(("number", str(phone_number_id)))
            else:
                parts.append(("waba", waba_id) if waba_id else ("", ""))
    return parts


class MetaInbound:
    """A delivery of Meta's WhatsApp Business Account webhook (also the simulator's)."""

    def read(self, body: bytes) -> Delivery:
        payload = body_payload(body)
        return Delivery(parts=body_parts(payload), items=parse_webhook(payload, body=body))

    def parts(self, body: bytes) -> list[Part]:
        payload = body_payload(body)
        return body_parts(payload) if isinstance(payload, dict) else [("", "")]


FORMAT = MetaInbound()
