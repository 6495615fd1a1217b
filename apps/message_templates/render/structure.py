"""A template's structure as Meta defines it: placeholders, body and footer text, buttons, and the slots a sender fills."""

from __future__ import annotations

from dataclasses import dataclass, field
import re

from django.utils.translation import gettext as _


PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


HEADER_MAX = 60


BODY_MAX = 1024


COUPON_MAX = 15


OTP_MAX = 15


URL_SUFFIX_MAX = 2000


PAYLOAD_MAX = 256


# A flow button's token: a cap of ours (Meta documents none), to keep a stored send small.
FLOW_TOKEN_MAX = 1024


MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT")


AUTH_BODY_TEXT = "{{1}} is your verification code."


SENDABLE = "APPROVED"

# What this code builds a send for: the components, the header formats and the button
# kinds (button_kind) of a template, and of a carousel's cards. Anything else (a GIF or
# product header, a multi-product, single-product or voice-call button, a call
# permission request, a product card...) would be sent without its part, which Meta
# refuses: such a template is not offered as sendable (unsupported_parts) until its part
# is built here.
BUILT_COMPONENTS = ("HEADER", "BODY", "FOOTER", "BUTTONS", "LIMITED_TIME_OFFER", "CAROUSEL")
BUILT_HEADER_FORMATS = ("TEXT", *MEDIA_FORMATS, "LOCATION")
BUILT_BUTTONS = ("quick_reply", "url", "phone_number", "copy_code", "otp", "flow", "catalog")
BUILT_CARD_HEADER_FORMATS = ("IMAGE", "VIDEO")
BUILT_CARD_BUTTONS = ("quick_reply", "url", "phone_number")


@dataclass
class RenderedTemplate:
    """The template as the customer sees it, and Meta's send components."""

    name: str
    language: str
    header: str = ""
    header_format: str = ""  # "", TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION
    header_media: dict | None = None
    body: str = ""
    footer: str = ""
    buttons: list[dict] = field(default_factory=list)  # {"type", "text", "url"?, "phone_number"?, "code"?, "payload"?}
    components: list[dict] = field(default_factory=list)
    offer: dict | None = None  # {"text", "has_expiration", "expiration_time_ms"?, "expires_at"?}
    cards: list[dict] = field(default_factory=list)  # {"header_format", "header_media", "body", "buttons"}

    @property
    def text(self) -> str:
        """The plain text the customer reads: header, body, footer and button labels."""
        parts = []
        if self.header_format == "TEXT" and self.header:
            parts.append(self.header)
        elif self.header_format:
            parts.append(f"[{self.header_format.lower()}]")
        if self.offer:
            parts.append(" ".join(p for p in (self.offer["text"], self.offer.get("expires_at", "")) if p))
        if self.body:
            parts.append(self.body)
        if self.footer:
            parts.append(self.footer)
        if self.buttons:
            parts.append(" | ".join(f"[{b['text']}]" for b in self.buttons if b.get("text")))
        for card in self.cards:
            lines = [f"[{card['header_format'].lower()}]" if card.get("header_format") else "", card.get("body", ""),
                     " | ".join(f"[{b['text']}]" for b in card.get("buttons") or [] if b.get("text"))]
            parts.append("\n".join(line for line in lines if line))
        return "\n\n".join(p for p in parts if p)

    def meta_object(self) -> dict:
        """Meta's `template` object for POST /messages."""
        result = {"name": self.name, "language": {"code": self.language}}
        if self.components:
            result["components"] = self.components
        return result

    def as_content(self) -> dict:
        """What the inbox shows: stored as `content["rendered"]` of the message."""
        content = {
            "header": self.header, "header_format": self.header_format, "header_media": self.header_media,
            "body": self.body, "footer": self.footer, "buttons": self.buttons, "text": self.text,
        }
        if self.offer:  # a limited-time offer's, and a carousel's, only where the template has one
            content["offer"] = self.offer
        if self.cards:
            content["cards"] = self.cards
        return content


def _by_type(template) -> dict[str, dict]:
    return {str(c.get("type", "")).upper(): c for c in template.components or [] if isinstance(c, dict)}


def placeholders(text: str) -> list[str]:
    """The distinct placeholders of a text: positional ones in numeric order, named
    ones in order of appearance."""
    found = list(dict.fromkeys(PLACEHOLDER_RE.findall(text or "")))
    if found and all(p.isdigit() for p in found):
        return sorted(found, key=int)
    return found


def body_text(template) -> str:
    body = _by_type(template).get("BODY") or {}
    text = body.get("text") or ""
    if not text and template.category == "AUTHENTICATION":
        return AUTH_BODY_TEXT
    return text


def footer_text(template) -> str:
    footer = _by_type(template).get("FOOTER") or {}
    if footer.get("text"):
        return footer["text"]
    minutes = footer.get("code_expiration_minutes")
    if minutes:
        return _("This code expires in %(minutes)s minutes.") % {"minutes": minutes}
    return ""


def template_buttons(template) -> list[dict]:
    buttons = (_by_type(template).get("BUTTONS") or {}).get("buttons") or []
    return [b for b in buttons if isinstance(b, dict)]


def button_kind(template, button: dict) -> str:
    """quick_reply, url, phone_number, copy_code, otp, or Meta's own type in lower case.
    Meta lists an OTP button of an authentication template as a URL button."""
    kind = str(button.get("type", "")).lower()
    if kind == "otp" or (kind == "url" and (button.get("otp_type") or template.category == "AUTHENTICATION")):
        return "otp"
    return kind


def button_takes_parameter(template, button: dict) -> bool:
    kind = button_kind(template, button)
    if kind == "url":
        return bool(PLACEHOLDER_RE.search(button.get("url") or ""))
    return kind in ("copy_code", "otp", "quick_reply", "flow", "catalog")


# Buttons whose parameter may be left out (Meta then uses its default).
OPTIONAL_BUTTONS = ("quick_reply", "flow", "catalog")


def card_components(template) -> list[dict]:
    """The cards of the template's carousel (empty without one)."""
    carousel = _by_type(template).get("CAROUSEL") or {}
    return [c for c in carousel.get("cards") or [] if isinstance(c, dict)]


def offer_definition(template) -> dict | None:
    """The template's limited-time offer ({"text", "has_expiration"}), or None."""
    component = _by_type(template).get("LIMITED_TIME_OFFER")
    return (component.get("limited_time_offer") or {}) if component is not None else None


def unsupported_parts(template) -> list[str]:
    """The parts of the template no send of ours can carry yet (see BUILT_COMPONENTS),
    by the names Meta gives them ("CAROUSEL", "GIF header", "FLOW button"), each once."""
    found = []
    for component in template.components or []:
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type", "")).upper()
        if kind not in BUILT_COMPONENTS:
            found.append(kind or "?")
        elif kind == "HEADER" and str(component.get("format", "TEXT")).upper() not in BUILT_HEADER_FORMATS:
            found.append(f"{str(component.get('format')).upper()} header")
    for button in template_buttons(template):
        if button_kind(template, button) not in BUILT_BUTTONS:
            found.append(f"{str(button.get('type', '')).upper() or '?'} button")
    for card in card_components(template):
        for component in card.get("components") or []:
            if not isinstance(component, dict):
                continue
            kind = str(component.get("type", "")).upper()
            if kind == "HEADER" and str(component.get("format", "")).upper() not in BUILT_CARD_HEADER_FORMATS:
                found.append(f"{str(component.get('format')).upper()} card header")
            elif kind == "BUTTONS":
                found.extend(f"{str(b.get('type', '')).upper() or '?'} card button"
                             for b in component.get("buttons") or []
                             if isinstance(b, dict) and str(b.get("type", "")).lower() not in BUILT_CARD_BUTTONS)
            elif kind not in ("HEADER", "BODY", "BUTTONS"):
                found.append(f"{kind or '?'} card component")
    return list(dict.fromkeys(found))


def slots(template) -> list[dict]:
    """Every parameter the template takes: {"slot": "body.1", "component", "key", "kind",
    "required", "example"}; the composer builds its form from it."""
    by_type = _by_type(template)
    result = []
    header = by_type.get("HEADER")
    if header is not None:
        fmt = str(header.get("format", "TEXT")).upper()
        if fmt == "TEXT":
            examples = _examples(header, "header")
            for i, key in enumerate(placeholders(header.get("text", ""))):
                result.append({"slot": f"header.{key}", "component": "header", "key": key, "kind": "text",
                               "required": True, "example": examples.get(key, examples.get(str(i + 1), ""))})
        else:
            result.append({"slot": "header", "component": "header", "key": "", "kind": fmt.lower(),
                           "required": True, "example": ""})
    offer = offer_definition(template)
    if offer is not None and offer.get("has_expiration"):
        result.append({"slot": "offer", "component": "limited_time_offer", "key": "expiration_time_ms",
                       "kind": "expiration", "required": True, "example": ""})
    examples = _examples(by_type.get("BODY") or {}, "body")
    for key in placeholders(body_text(template)):
        result.append({"slot": f"body.{key}", "component": "body", "key": key, "kind": "text", "required": True,
                       "example": examples.get(key, "")})
    for index, button in enumerate(template_buttons(template)):
        if button_takes_parameter(template, button):
            kind = button_kind(template, button)
            example = button.get("example")
            result.append({"slot": f"button.{index}", "component": "buttons", "key": str(index), "kind": kind,
                           "required": kind not in OPTIONAL_BUTTONS, "label": button.get("text", ""),
                           "example": (example[0] if isinstance(example, list) and example else example) or ""})
    return result + card_slots(template)


def card_slots(template) -> list[dict]:
    """The parameters of a carousel's cards, for the composer (see structure.slots)."""
    result = []
    for n, card in enumerate(card_components(template)):
        by_type = {str(c.get("type", "")).upper(): c for c in card.get("components") or [] if isinstance(c, dict)}
        header = by_type.get("HEADER")
        if header is not None:
            result.append({"slot": f"card.{n}.header", "component": "cards", "card": n, "key": "header",
                           "kind": str(header.get("format", "IMAGE")).lower(), "required": True, "example": ""})
        body = by_type.get("BODY") or {}
        examples = (body.get("example") or {}).get("body_text") or [[]]
        examples = examples[0] if examples and isinstance(examples[0], list) else examples
        for i, key in enumerate(placeholders(body.get("text") or "")):
            result.append({"slot": f"card.{n}.body.{key}", "component": "cards", "card": n, "key": f"body.{key}",
                           "kind": "text", "required": True,
                           "example": str(examples[i]) if i < len(examples) else ""})
        for i, button in enumerate((by_type.get("BUTTONS") or {}).get("buttons") or []):
            kind = str(button.get("type", "")).lower()
            takes = (kind == "url" and "{{" in (button.get("url") or "")) or kind == "quick_reply"
            if takes:
                example = button.get("example")
                result.append({"slot": f"card.{n}.button.{i}", "component": "cards", "card": n,
                               "key": f"buttons.{i}", "kind": kind, "required": kind == "url",
                               "label": button.get("text", ""),
                               "example": (example[0] if isinstance(example, list) and example else example) or ""})
    return result


def _examples(component: dict, kind: str) -> dict:
    example = component.get("example") or {}
    if not isinstance(example, dict):
        return {}
    named = example.get(f"{kind}_text_named_params") or []
    if named:
        return {str(p.get("param_name")): str(p.get("example", "")) for p in named if isinstance(p, dict)}
    values = example.get(f"{kind}_text") or []
    if values and isinstance(values[0], list):
        values = values[0]
    return {str(i + 1): str(v) for i, v in enumerate(values)}
