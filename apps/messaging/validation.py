"""Meta's limits on what a business sends, checked before anything is stored.

`build_payload(kind, payload)` validates our input for one message kind and
returns the type object Meta expects (`{"body": ...}` for text, ...). Every
refusal is a `SendError` naming the field and the limit, which the APIs answer
as 400 and the inbox shows to the agent.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from apps.core.errors import SendError
from apps.providers.meta import calls, commerce, contact_cards, flows
from apps.providers.meta.capabilities import CAPABILITIES

TEXT_MAX = 4096
CAPTION_MAX = 1024
BODY_MAX = 1024
HEADER_MAX = 60
FOOTER_MAX = 60
BUTTON_TITLE_MAX = 20
BUTTONS_MAX = 3
BUTTON_ID_MAX = 256
LIST_BUTTON_MAX = 20
SECTIONS_MAX = 10
ROWS_MAX = 10
ROW_TITLE_MAX = 24
ROW_ID_MAX = 200
ROW_DESCRIPTION_MAX = 72
SECTION_TITLE_MAX = 24
CTA_DISPLAY_TEXT_MAX = 20
FILENAME_MAX = 240
# A contacts message: Meta takes up to 257 cards, each named by formatted_name and at
# least one of these parts (the provider's contact_cards.py checks them).
CONTACTS_MAX = contact_cards.CONTACTS_MAX
NAME_PARTS = contact_cards.NAME_PARTS

# Meta's media kinds and those of them that take a caption (the provider's capabilities).
MEDIA_KINDS = CAPABILITIES.media_kinds
CAPTION_KINDS = CAPABILITIES.caption_kinds
KINDS = ("text", *MEDIA_KINDS, "location", "contacts", "interactive", "template", "reaction")


def _str(payload: dict, key: str, field: str, *, required: bool = True, max_length: int | None = None) -> str:
    value = payload.get(key)
    if value is None or value == "":
        if required:
            raise SendError(field, "required", _("%(field)s is required.") % {"field": field})
        return ""
    if not isinstance(value, str):
        raise SendError(field, "invalid", _("%(field)s must be text.") % {"field": field})
    if max_length is not None and len(value) > max_length:
        raise SendError(
            field,
            "too_long",
            _("%(field)s is too long: at most %(limit)d characters (it has %(length)d).")
            % {"field": field, "limit": max_length, "length": len(value)},
        )
    return value


def _dict(value, field: str) -> dict:
    if not isinstance(value, dict):
        raise SendError(field, "invalid", _("%(field)s must be an object.") % {"field": field})
    return value


def _text(payload: dict) -> dict:
    body = _str(payload, "body", "text.body", max_length=TEXT_MAX)
    if not body.strip():
        raise SendError("text.body", "required", _("text.body is required."))
    return {"body": body, "preview_url": bool(payload.get("preview_url", False))}


def _media(kind: str, payload: dict) -> dict:
    """`media` (the id of one of our Media rows, resolved by the send use-case into
    `id`), `id` (a Meta media id) or `link`; caption where Meta allows it."""
    result: dict = {}
    if payload.get("id"):
        result["id"] = str(payload["id"])
    elif payload.get("link"):
        link = _str(payload, "link", f"{kind}.link", max_length=2000)
        if not link.startswith("https://") and not link.startswith("http://"):
            raise SendError(f"{kind}.link", "invalid", _("%(field)s must be an http(s) URL.") % {"field": f"{kind}.link"})
        result["link"] = link
    else:
        raise SendError(f"{kind}.media", "required", _("A file (media) or a link is required."))
    if payload.get("caption"):
        if kind not in CAPTION_KINDS:
            raise SendError(f"{kind}.caption", "not_allowed", _("A %(kind)s cannot have a caption.") % {"kind": kind})
        result["caption"] = _str(payload, "caption", f"{kind}.caption", max_length=CAPTION_MAX)
    if payload.get("filename"):
        if kind != "document":
            raise SendError(f"{kind}.filename", "not_allowed", _("Only documents have a file name."))
        result["filename"] = _str(payload, "filename", "document.filename", max_length=FILENAME_MAX)
    return result


def _number(payload: dict, key: str, field: str, low: float, high: float) -> float:
    try:
        value = float(payload.get(key))
    except (TypeError, ValueError):
        raise SendError(field, "required", _("%(field)s must be a number.") % {"field": field}) from None
    if not low <= value <= high:
        raise SendError(
            field, "out_of_range", _("%(field)s must be between %(low)s and %(high)s.") % {"field": field, "low": low, "high": high}
        )
    return value


def _location(payload: dict) -> dict:
    result = {
        "latitude": _number(payload, "latitude", "location.latitude", -90, 90),
        "longitude": _number(payload, "longitude", "location.longitude", -180, 180),
    }
    for key in ("name", "address"):
        if payload.get(key):
            result[key] = _str(payload, key, f"location.{key}", max_length=1000)
    return result


def _contacts(payload: dict) -> list:
    """Meta's contact cards, checked by the provider's rules (contact_cards.py)."""
    return contact_cards.cards(payload.get("contacts"))


def _header(value) -> dict:
    if isinstance(value, str):
        value = {"type": "text", "text": value}
    header = _dict(value, "interactive.header")
    kind = header.get("type")
    if kind == "text":
        return {"type": "text", "text": _str(header, "text", "interactive.header.text", max_length=HEADER_MAX)}
    if kind in ("image", "video", "document"):
        return {"type": kind, kind: _media(kind, _dict(header.get(kind), f"interactive.header.{kind}"))}
    raise SendError("interactive.header.type", "invalid", _("The header is text, image, video or document."))


def _interactive(payload: dict) -> dict:
    kind = payload.get("type")
    # A single product's body is optional (the product's own card says what it is).
    body = _str(payload, "body", "interactive.body", required=kind != "product", max_length=BODY_MAX)
    result: dict = {"type": kind, **({"body": {"text": body}} if body else {})}
    if payload.get("header"):
        result["header"] = _header(payload["header"])
    if payload.get("footer"):
        result["footer"] = {"text": _str(payload, "footer", "interactive.footer", max_length=FOOTER_MAX)}
    if kind == "button":
        buttons = payload.get("buttons")
        if not isinstance(buttons, list) or not buttons:
            raise SendError("interactive.buttons", "required", _("At least one button is required."))
        if len(buttons) > BUTTONS_MAX:
            raise SendError(
                "interactive.buttons", "too_many", _("At most %(limit)d buttons (there are %(count)d).") % {"limit": BUTTONS_MAX, "count": len(buttons)}
            )
        seen_ids, seen_titles, built = set(), set(), []
        for index, button in enumerate(buttons):
            button = _dict(button, f"interactive.buttons[{index}]")
            button_id = _str(button, "id", f"interactive.buttons[{index}].id", max_length=BUTTON_ID_MAX)
            title = _str(button, "title", f"interactive.buttons[{index}].title", max_length=BUTTON_TITLE_MAX)
            if button_id in seen_ids:
                raise SendError(f"interactive.buttons[{index}].id", "duplicate", _("Button ids must be unique."))
            if title in seen_titles:
                raise SendError(f"interactive.buttons[{index}].title", "duplicate", _("Button titles must be unique."))
            seen_ids.add(button_id)
            seen_titles.add(title)
            built.append({"type": "reply", "reply": {"id": button_id, "title": title}})
        result["action"] = {"buttons": built}
    elif kind == "list":
        if result.get("header", {}).get("type", "text") != "text":
            raise SendError("interactive.header", "invalid", _("A list message only takes a text header."))
        button = _str(payload, "button", "interactive.button", max_length=LIST_BUTTON_MAX)
        sections = payload.get("sections")
        if not isinstance(sections, list) or not sections:
            raise SendError("interactive.sections", "required", _("At least one section is required."))
        if len(sections) > SECTIONS_MAX:
            raise SendError("interactive.sections", "too_many", _("At most %(limit)d sections.") % {"limit": SECTIONS_MAX})
        total_rows, row_ids, built = 0, set(), []
        for s_index, section in enumerate(sections):
            section = _dict(section, f"interactive.sections[{s_index}]")
            title = _str(section, "title", f"interactive.sections[{s_index}].title", required=len(sections) > 1,
                         max_length=SECTION_TITLE_MAX)
            rows = section.get("rows")
            if not isinstance(rows, list) or not rows:
                raise SendError(f"interactive.sections[{s_index}].rows", "required", _("A section needs at least one row."))
            total_rows += len(rows)
            if total_rows > ROWS_MAX:
                raise SendError("interactive.sections", "too_many_rows", _("At most %(limit)d rows in all sections.") % {"limit": ROWS_MAX})
            built_rows = []
            for r_index, row in enumerate(rows):
                field = f"interactive.sections[{s_index}].rows[{r_index}]"
                row = _dict(row, field)
                row_id = _str(row, "id", f"{field}.id", max_length=ROW_ID_MAX)
                if row_id in row_ids:
                    raise SendError(f"{field}.id", "duplicate", _("Row ids must be unique."))
                row_ids.add(row_id)
                built_row = {"id": row_id, "title": _str(row, "title", f"{field}.title", max_length=ROW_TITLE_MAX)}
                if row.get("description"):
                    built_row["description"] = _str(row, "description", f"{field}.description", max_length=ROW_DESCRIPTION_MAX)
                built_rows.append(built_row)
            built.append({**({"title": title} if title else {}), "rows": built_rows})
        result["action"] = {"button": button, "sections": built}
    elif kind == "cta_url":
        display = _str(payload, "display_text", "interactive.display_text", max_length=CTA_DISPLAY_TEXT_MAX)
        url = _str(payload, "url", "interactive.url", max_length=2000)
        if not url.startswith(("https://", "http://")):
            raise SendError("interactive.url", "invalid", _("interactive.url must be an http(s) URL."))
        result["action"] = {"name": "cta_url", "parameters": {"display_text": display, "url": url}}
    elif kind == "location_request_message":
        # Meta's location request is a body and its "Send location" button: no header, no footer.
        if payload.get("header") or payload.get("footer"):
            raise SendError("interactive.header", "invalid",
                            _("A location request has a body only: no header, no footer."))
        result["action"] = {"name": "send_location"}
    elif kind == "flow":
        if result.get("header", {}).get("type", "text") != "text":
            raise SendError("interactive.header", "invalid", _("A Flow message only takes a text header."))
        result["action"] = flows.flow_action(payload)
    elif kind == "product":
        if payload.get("header"):
            raise SendError("interactive.header", "invalid", _("A product message has no header."))
        result["action"] = commerce.product_action(payload)
    elif kind == "product_list":
        if result.get("header", {}).get("type") != "text":
            raise SendError("interactive.header", "required", _("A product list needs a text header."))
        result["action"] = commerce.product_list_action(payload)
    elif kind == "call_permission_request":
        result["action"] = calls.call_permission_request_action(payload)
    elif kind == "voice_call":
        result["action"] = calls.voice_call_action(payload)
    else:
        raise SendError("interactive.type", "invalid",
                        _("interactive.type is button, list, cta_url, location_request_message, flow, product, "
                          "product_list, call_permission_request or voice_call."))
    return result


def _reaction(payload: dict) -> dict:
    emoji = payload.get("emoji", "")
    if not isinstance(emoji, str) or len(emoji) > 16:
        raise SendError("reaction.emoji", "invalid", _("reaction.emoji must be one emoji, or empty to remove it."))
    return {"emoji": emoji}


# Templates are checked against the stored template by apps/message_templates/render/.


def build_payload(kind: str, payload: dict) -> dict | list:
    """Validate our input for `kind` and return Meta's type object (templates and
    reactions are completed by the send use-case, which knows the rows they name)."""
    if kind not in KINDS:
        raise SendError("type", "invalid", _("Unknown message type %(kind)s.") % {"kind": kind})
    payload = _dict(payload, kind)
    if kind == "text":
        return _text(payload)
    if kind in MEDIA_KINDS:
        if payload.get("media") and not payload.get("id"):
            payload = {**payload, "id": "pending"}
        return _media(kind, payload)
    if kind == "location":
        return _location(payload)
    if kind == "contacts":
        return _contacts(payload)
    if kind == "interactive":
        return _interactive(payload)
    if kind == "reaction":
        return _reaction(payload)
    return {}


def preview_text(kind: str, content) -> str:
    """The searchable, previewable text of an outbound message."""
    if not isinstance(content, dict):
        return ""
    if kind == "text":
        return content.get("body", "")
    if kind in MEDIA_KINDS:
        return content.get("caption", "") or content.get("filename", "")
    if kind == "location":
        return content.get("name", "") or f"{content.get('latitude')}, {content.get('longitude')}"
    if kind == "interactive":
        return (content.get("body") or {}).get("text", "")
    if kind == "contacts":
        return ", ".join(str((card.get("name") or {}).get("formatted_name", "")) for card in content.get("contacts") or []
                         if isinstance(card, dict) and isinstance(card.get("name"), dict))
    if kind == "reaction":
        return content.get("emoji", "")
    if kind == "template":
        return (content.get("rendered") or {}).get("text", "") or content.get("name", "")
    return ""
