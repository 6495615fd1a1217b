"""The simulated send checks of template parts beyond the body (graph.py checks the
template's state and the body's parameters): a limited-time offer's expiration, a
carousel's cards, flow, catalog and copy-code buttons, as Meta's send reference
describes them and with its error codes (131008 a required parameter is missing,
131009 a parameter's value is not valid, 132000 the number of parameters does not
match, 132012 a parameter's format does not match the template's).
"""

from __future__ import annotations

import re


class GraphError(Exception):
    """A refusal: Meta's code, message and details (graph.py answers it as its own
    GraphError; this module imports nothing of graph.py, which calls it)."""

    def __init__(self, code: int, message: str, *, details: str = ""):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
COUPON_MAX = 15


def _by_type(components) -> dict[str, dict]:
    return {str(c.get("type", "")).upper(): c for c in components or [] if isinstance(c, dict)}


def _missing(what: str) -> GraphError:
    return GraphError(131008, "(#131008) Required parameter is missing", details=what)


def _invalid(what: str) -> GraphError:
    return GraphError(131009, "(#131009) Parameter value is not valid", details=what)


def _count(where: str, given: int, wanted: int) -> GraphError:
    return GraphError(132000, "(#132000) Number of parameters does not match the expected number of params",
                      details=f"{where}: number of localizable_params ({given}) does not match the expected number "
                              f"of params ({wanted})")


def _sent_buttons(components) -> dict[int, dict]:
    found = {}
    for component in components or []:
        if isinstance(component, dict) and component.get("type") == "button":
            try:
                found[int(component.get("index"))] = component
            except (TypeError, ValueError):
                raise _invalid("button: index must be the button's position, a number.") from None
    return found


def _check_buttons(where: str, buttons: list, sent: dict[int, dict]) -> None:
    for index, component in sent.items():
        if not 0 <= index < len(buttons):
            raise _invalid(f"{where}button at index {index}: the template has {len(buttons)} buttons.")
        kind = str(buttons[index].get("type", "")).lower()
        sub_type = str(component.get("sub_type", "")).lower()
        params = [p for p in component.get("parameters") or [] if isinstance(p, dict)]
        if kind in ("flow", "catalog"):
            if sub_type != kind or not params or params[0].get("type") != "action" \
                    or not isinstance(params[0].get("action"), dict):
                raise _invalid(f"{where}button at index {index}: a {kind} button takes one action parameter.")
            action = params[0]["action"]
            if kind == "flow" and ("flow_token" in action and not isinstance(action["flow_token"], str)
                                   or "flow_action_data" in action and not isinstance(action["flow_action_data"], dict)):
                raise _invalid(f"{where}button at index {index}: flow_token is text, flow_action_data an object.")
            if kind == "catalog" and not isinstance(action.get("thumbnail_product_retailer_id", ""), str):
                raise _invalid(f"{where}button at index {index}: thumbnail_product_retailer_id is text.")
        elif kind == "copy_code":
            code = params[0].get("coupon_code") if params else None
            if sub_type != "copy_code" or not isinstance(code, str) or not 0 < len(code) <= COUPON_MAX:
                raise _invalid(f"{where}button at index {index}: coupon_code is 1 to {COUPON_MAX} characters.")
    for index, button in enumerate(buttons):
        kind = str(button.get("type", "")).lower()
        takes = kind == "copy_code" or kind == "catalog" or (kind == "url" and _PLACEHOLDER.search(button.get("url") or ""))
        if takes and index not in sent:
            raise _missing(f"{where}button at index {index} ({kind}) needs its parameter.")


def _check_card(n: int, card: dict, sent: dict) -> None:
    where = f"card {n}: "
    defined = _by_type(card.get("components"))
    given = {str(c.get("type", "")).lower(): c for c in sent.get("components") or []
             if isinstance(c, dict) and c.get("type") != "button"}
    header = defined.get("HEADER")
    if header is not None:
        fmt = str(header.get("format", "")).lower()
        params = (given.get("header") or {}).get("parameters") or []
        if not params:
            raise _missing(f"{where}header: the card's {fmt} is required.")
        media = params[0].get(fmt) if isinstance(params[0], dict) else None
        if params[0].get("type") != fmt or not isinstance(media, dict) or not (media.get("link") or media.get("id")):
            raise GraphError(132012, "(#132012) Parameter format does not match format in the created template",
                             details=f"{where}header: expected {fmt} with a link or an id")
    wanted = set(_PLACEHOLDER.findall((defined.get("BODY") or {}).get("text") or ""))
    have = len((given.get("body") or {}).get("parameters") or [])
    if have != len(wanted):
        raise _count(f"{where}body", have, len(wanted))
    buttons = [b for b in (defined.get("BUTTONS") or {}).get("buttons") or [] if isinstance(b, dict)]
    _check_buttons(where, buttons, _sent_buttons(sent.get("components")))


def template_parts_problem(template, content: dict) -> tuple[int, str, str] | None:
    """Meta's refusal of a template send's parts beyond the body, as (code, message,
    details), or None, for `template` (a SimulatedTemplate) and the send's `template`
    object."""
    try:
        _check_template_parts(template, content)
    except GraphError as refusal:
        return refusal.code, refusal.message, refusal.details
    return None


def _check_template_parts(template, content: dict) -> None:
    defined = _by_type(template.components)
    components = [c for c in content.get("components") or [] if isinstance(c, dict)]
    sent = {str(c.get("type", "")).lower(): c for c in components if c.get("type") != "button"}
    offer = (defined.get("LIMITED_TIME_OFFER") or {}).get("limited_time_offer") or {}
    if offer.get("has_expiration"):
        params = (sent.get("limited_time_offer") or {}).get("parameters") or []
        value = params[0].get("limited_time_offer") if params and isinstance(params[0], dict) else None
        ms = value.get("expiration_time_ms") if isinstance(value, dict) else None
        if ms is None:
            raise _missing("limited_time_offer: expiration_time_ms is required for an offer with an expiration.")
        if isinstance(ms, bool) or not isinstance(ms, int) or ms <= 0:
            raise _invalid("limited_time_offer: expiration_time_ms is a Unix time in milliseconds.")
    buttons = [b for b in (defined.get("BUTTONS") or {}).get("buttons") or [] if isinstance(b, dict)]
    _check_buttons("", buttons, _sent_buttons(components))
    carousel = defined.get("CAROUSEL")
    if carousel is not None:
        cards = [c for c in carousel.get("cards") or [] if isinstance(c, dict)]
        given = (sent.get("carousel") or {}).get("cards")
        if not isinstance(given, list) or not given:
            raise _missing("carousel: the cards are required.")
        if len(given) != len(cards):
            raise _count("carousel: cards", len(given), len(cards))
        for n, card in enumerate(given):
            if not isinstance(card, dict) or card.get("card_index") != n:
                raise _invalid(f"carousel: card {n} needs card_index {n}.")
            _check_card(n, cards[n], card)
