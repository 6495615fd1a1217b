"""Whose admins may read a stored delivery.

Admin scopes deliveries by their organisation and shows a delivery's whole body, and
one delivery signed with the platform secret (META_APP_SECRET) may carry entries for
several organisations' numbers. So a delivery belongs to an organisation (and a
number) only when every part of its body is that organisation's (that number's);
otherwise to none, and only platform staff see it. Processing decides it from the
body, not from which items were stored, so every try of every path (the single task,
the drain's tries, replay) gives the same answer.
"""

from __future__ import annotations

from django.conf import settings

from ..models import WhatsAppNumber
from ..signature import secret_fingerprint, signed_by_number

Part = tuple[str, str]


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


def delivery_owner(*, parts: list[Part], numbers: dict[str, WhatsAppNumber],
                   by_waba: dict[str, list[WhatsAppNumber]], signer: str
                   ) -> tuple[int | None, WhatsAppNumber | None]:
    """The organisation id and number of a delivery of these `parts`, signed by the
    secret of fingerprint `signer` (`numbers` and `by_waba` as processing looked them
    up): (None, None) unless every part is one organisation's; the number only when
    every part is that one number's.

    A part naming a number or WABA that did not sign the delivery was refused. Under
    an organisation's own secret it is the signer's own writing (whoever holds that
    secret wrote it, or Meta for that app) and does not count; the platform secret is
    shared by every organisation on it, so there it is someone else's data. A part of
    an unknown number or WABA, or of none, is nobody's."""
    platform = settings.META_APP_SECRET
    shared = bool(platform) and signer == secret_fingerprint(platform)
    organizations: set[int] = set()
    reached: dict[int, WhatsAppNumber] = {}
    for kind, key in parts:
        if kind == "number":
            found = [numbers[key]] if key in numbers else []
        else:
            found = by_waba.get(key, []) if kind == "waba" else []
        allowed = [number for number in found if signed_by_number(number, signer)]
        if not allowed:
            if found and not shared:
                continue
            return None, None
        for number in allowed:
            organizations.add(number.organization_id)
            reached[number.pk] = number
    if len(organizations) != 1:
        return None, None
    return organizations.pop(), next(iter(reached.values())) if len(reached) == 1 else None


def webhook_events_reattribute(*, batch: int = 1000) -> int:
    """Decide again, from their bodies, whose the stored deliveries that have an
    organisation are (delivery_owner), without processing them: deliveries attributed
    before this rule to the first organisation an item reached lose it when their body
    holds anyone else's data. Batch by batch (a short transaction each); returns how
    many changed. Safe to run twice."""
    from django.db import transaction

    from ..body import MalformedBody, body_payload
    from ..models import WebhookEvent
    from .processing import _numbers_for, _stored_signer

    changed, last = 0, 0
    while True:
        with transaction.atomic():
            events = list(WebhookEvent.objects.filter(organization__isnull=False, pk__gt=last)
                          .order_by("pk")[:batch])
            if not events:
                return changed
            last = events[-1].pk
            parts = {}
            for event in events:
                try:
                    payload = body_payload(bytes(event.body))
                except MalformedBody:  # a body we cannot read is nobody's
                    payload = None
                parts[event.pk] = body_parts(payload) if isinstance(payload, dict) else [("", "")]
            numbers, by_waba = _numbers_for([], parts=[part for found in parts.values() for part in found])
            updated = []
            for event in events:
                signer = event.signed_by or _stored_signer(event, numbers)
                organization_id, number = delivery_owner(parts=parts[event.pk], numbers=numbers, by_waba=by_waba,
                                                         signer=signer)
                number_id = number.pk if number is not None else None
                if (event.organization_id, event.number_id) != (organization_id, number_id):
                    event.organization_id, event.number_id = organization_id, number_id
                    updated.append(event)
            WebhookEvent.objects.bulk_update(updated, ["organization", "number"])
            changed += len(updated)
