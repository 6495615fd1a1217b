"""A template edited at Meta (WhatsApp Manager or the API): its new components, from
Meta's message_template_components_update webhook, applied to the stored ones so that
previews and parameter checks use them at once (the next sync brings the rest)."""

from __future__ import annotations

from .render import placeholders

# The buttons Meta's components update lists (it names those with a text, a URL or a
# phone number); any other button of the template is kept as it is.
_EDIT_BUTTON_FIELDS = {"text": "message_template_button_text", "url": "message_template_button_url",
                       "phone_number": "message_template_button_phone_number"}


def components_edited(components: list, value: dict) -> list:
    """The template's components after Meta's message_template_components_update (a
    template edited in WhatsApp Manager or through the API): the body text
    (`message_template_element`), the text header (`message_template_title`, absent
    when the template has none), the footer (`message_template_footer`, likewise) and
    the URL and phone number buttons (`message_template_buttons`, in order, likewise).
    A media or location header, other buttons and the examples of placeholders that
    did not change are kept."""
    by_type = {str(c.get("type", "")).upper(): c for c in components if isinstance(c, dict)}
    result = []
    header = by_type.get("HEADER")
    title = value.get("message_template_title")
    if header is not None and str(header.get("format", "TEXT")).upper() != "TEXT":
        result.append(header)
    elif title:
        kept = {**header} if header is not None and header.get("text") == title else {}
        result.append({**kept, "type": "HEADER", "format": "TEXT", "text": str(title)})
    body = dict(by_type.get("BODY") or {"type": "BODY"})
    element = value.get("message_template_element")
    if element is not None and str(element) != body.get("text"):
        if placeholders(str(element)) != placeholders(body.get("text", "")):
            body.pop("example", None)  # examples of the old placeholders
        body["text"] = str(element)
    result.append(body)
    footer = value.get("message_template_footer")
    if footer:
        result.append({**(by_type.get("FOOTER") or {}), "type": "FOOTER", "text": str(footer)})
    elif by_type.get("FOOTER", {}).get("code_expiration_minutes"):  # an authentication template's own footer
        result.append(by_type["FOOTER"])
    buttons = _buttons_edited((by_type.get("BUTTONS") or {}).get("buttons") or [],
                              value.get("message_template_buttons") or [])
    if buttons:
        result.append({**(by_type.get("BUTTONS") or {}), "type": "BUTTONS", "buttons": buttons})
    known = {"HEADER", "BODY", "FOOTER", "BUTTONS"}
    result.extend(c for c in components if isinstance(c, dict) and str(c.get("type", "")).upper() not in known)
    return result


def _buttons_edited(buttons: list, listed: list) -> list:
    """`buttons` with those of the types Meta listed replaced, in order, by the listed
    ones (URL and phone number buttons always: the update lists every one the template
    has); a listed button with no counterpart is added."""
    queues: dict[str, list] = {}
    for item in listed:
        if isinstance(item, dict) and item.get("message_template_button_type"):
            queues.setdefault(str(item["message_template_button_type"]).upper(), []).append(item)
    edited_types = {"URL", "PHONE_NUMBER", *queues}
    result = []
    for button in buttons:
        if not isinstance(button, dict):
            continue
        kind = str(button.get("type", "")).upper()
        if kind not in edited_types:
            result.append(button)
        elif queues.get(kind):
            result.append(_button_edited(button, queues[kind].pop(0)))
    for kind, rest in queues.items():
        result.extend(_button_edited({"type": kind}, item) for item in rest)
    return result


def _button_edited(button: dict, item: dict) -> dict:
    edited = dict(button)
    for ours, theirs in _EDIT_BUTTON_FIELDS.items():
        if item.get(theirs) is not None:
            if ours == "url" and edited.get("url") != item[theirs]:
                edited.pop("example", None)
            edited[ours] = str(item[theirs])
    return edited
