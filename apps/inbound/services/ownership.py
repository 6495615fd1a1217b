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

from apps.providers.base import Part
from apps.providers.meta.signature import secret_fingerprint, signed_by_number
from apps.whatsapp.models import WhatsAppNumber


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
