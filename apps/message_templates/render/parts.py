"""The template parts beyond header, body, footer and the plain buttons: the
limited-time offer, the carousel's cards, and the flow and catalog buttons, each
checked and rendered to the components Meta's send reference gives for it.

Parameters, beside header, body and buttons (see the package's docstring):

    "limited_time_offer": 1767225599000 | "2026-12-31T23:59" | {"expiration_time_ms": ..}
                          # when the offer expires: Unix time in ms, or an ISO date and time
                          # (without a zone: the current time zone's); only for an offer
                          # with has_expiration
    "cards": [{"header": {"link": ..} | {"id": ..}, "body": [..], "buttons": {"1": ".."}}, ..]
                          # one per card of a carousel, in order
    "buttons": {"0": "<flow_token>" | {"flow_token": .., "flow_action_data": {..}},   # FLOW
                "0": "<product retailer id>" | {"thumbnail_product_retailer_id": ..}}  # CATALOG
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import SendError

from .structure import FLOW_TOKEN_MAX


def _error(field_name: str, code: str, message: str) -> SendError:
    return SendError(field_name, code, message)


def _expiration_ms(value) -> int:
    if isinstance(value, dict):
        value = value.get("expiration_time_ms")
    if isinstance(value, bool) or value in (None, ""):
        raise _error("limited_time_offer", "required",
                     _("The limited-time offer needs its expiration: a date and time."))
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        ms = int(value)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _error("limited_time_offer", "invalid",
                         _("The offer's expiration must be a date and time, or Unix time in milliseconds.")) from None
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, timezone.get_current_timezone())
        ms = int(moment.timestamp() * 1000)
    else:
        raise _error("limited_time_offer", "invalid",
                     _("The offer's expiration must be a date and time, or Unix time in milliseconds."))
    if ms <= 0:
        raise _error("limited_time_offer", "invalid", _("The offer's expiration must be after 1970."))
    return ms


def offer_component(component: dict, given) -> tuple[dict | None, dict]:
    """Meta's `limited_time_offer` send component (None when the offer has no
    expiration) and what the customer sees of it: {"text", "has_expiration",
    "expiration_time_ms"?}."""
    offer = component.get("limited_time_offer") or {}
    shown = {"text": str(offer.get("text") or ""), "has_expiration": bool(offer.get("has_expiration"))}
    if not shown["has_expiration"]:
        if given not in (None, "", {}):
            raise _error("limited_time_offer", "not_allowed", _("This offer has no expiration to give."))
        return None, shown
    ms = _expiration_ms(given)
    shown["expiration_time_ms"] = ms
    shown["expires_at"] = datetime.fromtimestamp(ms / 1000, tz=timezone.get_current_timezone()).isoformat(
        timespec="minutes")
    return {"type": "limited_time_offer",
            "parameters": [{"type": "limited_time_offer", "limited_time_offer": {"expiration_time_ms": ms}}]}, shown


def flow_button(index: int, button: dict, value) -> tuple[dict | None, dict]:
    """A flow button: the flow's token and its first screen's data, both optional
    (without them Meta opens the flow with the token "unused")."""
    where = f"buttons[{index}]"
    shown = {"type": "flow", "text": button.get("text") or ""}
    if value in (None, "", {}):
        return None, shown
    if isinstance(value, str):
        value = {"flow_token": value}
    if not isinstance(value, dict) or set(value) - {"flow_token", "flow_action_data"}:
        raise _error(where, "invalid", _("%(field)s takes flow_token and flow_action_data.") % {"field": where})
    action = {}
    token = value.get("flow_token")
    if token not in (None, ""):
        if not isinstance(token, str) or len(token) > FLOW_TOKEN_MAX:
            raise _error(f"{where}.flow_token", "invalid", _("%(field)s: the flow token is text of at most %(n)d "
                                                             "characters.") % {"field": where, "n": FLOW_TOKEN_MAX})
        action["flow_token"] = token.strip()
    data = value.get("flow_action_data")
    if data not in (None, {}):
        if not isinstance(data, dict):
            raise _error(f"{where}.flow_action_data", "invalid",
                         _("%(field)s: flow_action_data is an object (the first screen's data).") % {"field": where})
        action["flow_action_data"] = data
    if not action:
        return None, shown
    shown["flow_token"] = action.get("flow_token", "")
    return {"type": "button", "sub_type": "flow", "index": str(index),
            "parameters": [{"type": "action", "action": action}]}, shown


def catalog_button(index: int, button: dict, value) -> tuple[dict, dict]:
    """A catalog button: the product whose image is the message's thumbnail (Meta
    takes the catalog's first product when none is given)."""
    where = f"buttons[{index}]"
    shown = {"type": "catalog", "text": button.get("text") or ""}
    if isinstance(value, dict):
        value = value.get("thumbnail_product_retailer_id")
    if value not in (None, "") and not isinstance(value, str):
        raise _error(where, "invalid", _("%(field)s: the thumbnail is a product's retailer id.") % {"field": where})
    action = {}
    if value and value.strip():
        action["thumbnail_product_retailer_id"] = value.strip()
        shown["thumbnail_product_retailer_id"] = value.strip()
    return {"type": "button", "sub_type": "catalog", "index": str(index),
            "parameters": [{"type": "action", "action": action}]}, shown


def _card_values(given, count: int) -> list:
    if given in (None, "", []):
        given = []
    if isinstance(given, dict):
        given = [given.get(str(n)) or given.get(n) or {} for n in range(count)]
    if not isinstance(given, list) or len(given) != count:
        raise _error("cards", "count", _("The carousel has %(n)d cards: give the parameters of each.") % {"n": count})
    return given


def carousel_component(template, component: dict, given, *, render_card) -> tuple[dict, list[dict]]:
    """Meta's `carousel` send component, a card for each of the template's (with its
    header's media, its body's parameters and its buttons'), and what each card shows.
    `render_card(card_index, card, values)` renders one card (parameters.py)."""
    cards = [c for c in component.get("cards") or [] if isinstance(c, dict)]
    values = _card_values(given, len(cards))
    sent, shown = [], []
    for index, card in enumerate(cards):
        card_values = values[index] or {}
        if not isinstance(card_values, dict):
            raise _error(f"cards[{index}]", "invalid", _("Each card's parameters are an object with header, body "
                                                         "and buttons."))
        try:
            components, card_shown = render_card(index, card, card_values)
        except SendError as error:
            raise _error(f"cards[{index}].{error.field}", error.code,
                         _("Card %(n)d: %(message)s") % {"n": index + 1, "message": error.message}) from None
        sent.append({"card_index": index, "components": components})
        shown.append(card_shown)
    return {"type": "carousel", "cards": sent}, shown
