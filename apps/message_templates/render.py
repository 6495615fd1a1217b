"""A template and its parameters: what the customer will see, and what Meta is sent.

`template_render(template=..., parameters=...)` checks that the number and kind of
the parameters match the template's components and returns a `RenderedTemplate`:
the header, body, footer and buttons exactly as WhatsApp shows them, the plain text
of it all, and the `components` of Meta's `template` send object.

Parameters, one entry per component that takes any:

    {
      "header": ["Ann"] | {"name": "Ann"} | {"link": "https://..."} | {"id": "<Meta media id>"}
                | {"latitude": .., "longitude": .., "name": .., "address": ..},
      "body": ["Ann", "42"]                       # positional {{1}}, {{2}} (or {"1": .., "2": ..})
            | {"first_name": "Ann"},              # named {{first_name}}
      "buttons": {"0": "ORDER-42", "2": "SAVE15"} # by the button's index (or a list in button order)
    }

A value is text (a string or a number) or one of Meta's parameter objects:
`{"type": "currency", "currency": {"fallback_value": "$10.99", "code": "USD", "amount_1000": 10990}}`,
`{"type": "date_time", "date_time": {"fallback_value": "May 1, 2026"}}` or `{"type": "text", "text": ".."}`.
Buttons take: the URL suffix (URL button with {{1}}), the payload (quick reply,
optional), the coupon code (copy code) or the one-time password (OTP).

Every refusal is a `SendError` whose field names the component and the parameter
("body.2", "header", "buttons[1]").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from apps.messaging.validation import SendError

PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
HEADER_MAX = 60
BODY_MAX = 1024
COUPON_MAX = 15
OTP_MAX = 15
URL_SUFFIX_MAX = 2000
PAYLOAD_MAX = 256
MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT")
AUTH_BODY_TEXT = "{{1}} is your verification code."
SENDABLE = "APPROVED"


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

    @property
    def text(self) -> str:
        """The plain text the customer reads: header, body, footer and button labels."""
        parts = []
        if self.header_format == "TEXT" and self.header:
            parts.append(self.header)
        elif self.header_format:
            parts.append(f"[{self.header_format.lower()}]")
        if self.body:
            parts.append(self.body)
        if self.footer:
            parts.append(self.footer)
        if self.buttons:
            parts.append(" | ".join(f"[{b['text']}]" for b in self.buttons if b.get("text")))
        return "\n\n".join(p for p in parts if p)

    def meta_object(self) -> dict:
        """Meta's `template` object for POST /messages."""
        result = {"name": self.name, "language": {"code": self.language}}
        if self.components:
            result["components"] = self.components
        return result

    def as_content(self) -> dict:
        """What the inbox shows: stored as `content["rendered"]` of the message."""
        return {
            "header": self.header, "header_format": self.header_format, "header_media": self.header_media,
            "body": self.body, "footer": self.footer, "buttons": self.buttons, "text": self.text,
        }


# --- the template's definition -------------------------------------------------------------


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
    return kind in ("copy_code", "otp", "quick_reply")


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
    examples = _examples(by_type.get("BODY") or {}, "body")
    for key in placeholders(body_text(template)):
        result.append({"slot": f"body.{key}", "component": "body", "key": key, "kind": "text", "required": True,
                       "example": examples.get(key, "")})
    for index, button in enumerate(template_buttons(template)):
        if button_takes_parameter(template, button):
            kind = button_kind(template, button)
            example = button.get("example")
            result.append({"slot": f"button.{index}", "component": "buttons", "key": str(index), "kind": kind,
                           "required": kind != "quick_reply", "label": button.get("text", ""),
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


# --- parameters ----------------------------------------------------------------------------


def _error(field_name: str, code: str, message: str) -> SendError:
    return SendError(field_name, code, message)


def _values(template, component: str, given, wanted: list[str]) -> list[tuple[str, object]]:
    """Pair each placeholder with its value; the count and the names must match."""
    named = template.parameter_format == "NAMED" or (wanted and not all(w.isdigit() for w in wanted))
    if given is None or given == "" or given == [] or given == {}:
        given = [] if not named else {}
    if isinstance(given, (str, int, float)) and len(wanted) == 1:
        given = [given]
    if named:
        if not isinstance(given, dict) or set(map(str, given)) != set(wanted):
            have = ", ".join(sorted(map(str, given))) if isinstance(given, dict) else "-"
            raise _error(component, "names",
                         _("The %(component)s takes the named parameters %(names)s (given: %(given)s).")
                         % {"component": component, "names": ", ".join(wanted) or "-", "given": have or "-"})
        return [(k, given[k]) for k in wanted]
    if isinstance(given, dict):
        keys = set(map(str, given))
        if keys != set(wanted):
            raise _error(component, "count",
                         _("The %(component)s takes %(n)d parameter(s) (%(names)s), %(given)d given.")
                         % {"component": component, "n": len(wanted), "given": len(keys),
                            "names": ", ".join("{{%s}}" % w for w in wanted) or "-"})
        given = {str(k): v for k, v in given.items()}
        return [(k, given[k]) for k in wanted]
    if not isinstance(given, list) or len(given) != len(wanted):
        raise _error(component, "count",
                     _("The %(component)s takes %(n)d parameter(s) (%(names)s), %(given)d given.")
                     % {"component": component, "n": len(wanted), "given": len(given) if isinstance(given, list) else 1,
                        "names": ", ".join("{{%s}}" % w for w in wanted) or "-"})
    return list(zip(wanted, given))


def _parameter(component: str, key: str, value, *, named: bool, allow_typed: bool) -> tuple[dict, str]:
    """Meta's parameter object for one value, and the text the customer sees for it."""
    where = f"{component}.{key}"
    if isinstance(value, bool) or value is None:
        raise _error(where, "invalid", _("%(field)s needs a value.") % {"field": where})
    if isinstance(value, (int, float)):
        value = str(value)
    if isinstance(value, str):
        value = {"type": "text", "text": value}
    if not isinstance(value, dict):
        raise _error(where, "invalid", _("%(field)s must be text or a parameter object.") % {"field": where})
    kind = value.get("type", "text")
    if kind == "text":
        text = value.get("text")
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            text = str(text)
        if not isinstance(text, str) or not text.strip():
            raise _error(where, "required", _("%(field)s needs a text value.") % {"field": where})
        if component == "body" and ("\n" in text or "\t" in text or "     " in text):
            raise _error(where, "invalid",
                         _("%(field)s cannot have new lines, tabs or more than 4 consecutive spaces.") % {"field": where})
        param, shown = {"type": "text", "text": text}, text
    elif kind in ("currency", "date_time"):
        if not allow_typed:
            raise _error(where, "invalid", _("%(field)s: only the body takes %(kind)s parameters.")
                         % {"field": where, "kind": kind})
        inner = value.get(kind)
        if not isinstance(inner, dict) or not str(inner.get("fallback_value") or "").strip():
            raise _error(f"{where}.fallback_value", "required",
                         _("%(field)s needs a fallback_value (the text the customer sees).") % {"field": where})
        if kind == "currency":
            code = str(inner.get("code") or "")
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise _error(f"{where}.code", "invalid",
                             _("%(field)s needs an ISO 4217 currency code such as USD.") % {"field": where})
            amount = inner.get("amount_1000")
            if isinstance(amount, bool) or not isinstance(amount, int):
                raise _error(f"{where}.amount_1000", "invalid",
                             _("%(field)s needs amount_1000: the amount times 1000, a whole number.") % {"field": where})
            param = {"type": "currency", "currency": {"fallback_value": str(inner["fallback_value"]),
                                                      "code": code, "amount_1000": amount}}
        else:
            param = {"type": "date_time", "date_time": {"fallback_value": str(inner["fallback_value"])}}
        shown = str(inner["fallback_value"])
    else:
        raise _error(where, "invalid", _("%(field)s: unknown parameter type %(kind)s (text, currency or date_time).")
                     % {"field": where, "kind": kind})
    if named:
        param["parameter_name"] = key
    return param, shown


def _substitute(text: str, shown: dict[str, str]) -> str:
    return PLACEHOLDER_RE.sub(lambda m: shown.get(m.group(1), m.group(0)), text or "")


def _media_header(fmt: str, value) -> tuple[dict, dict]:
    kind = fmt.lower()
    if isinstance(value, dict) and isinstance(value.get(kind), dict):
        value = value[kind]
    if not isinstance(value, dict) or not (value.get("link") or value.get("id")):
        raise _error("header", "required",
                     _("The header is a %(kind)s: give its link or an uploaded media id.") % {"kind": kind})
    media = {}
    if value.get("id"):
        media["id"] = str(value["id"])
    else:
        link = str(value["link"])
        if not link.startswith(("https://", "http://")):
            raise _error("header.link", "invalid", _("header.link must be an http(s) URL."))
        media["link"] = link
    if value.get("filename"):
        if kind != "document":
            raise _error("header.filename", "not_allowed", _("Only a document header has a file name."))
        media["filename"] = str(value["filename"])
    return {"type": kind, kind: media}, {"type": kind, **media}


def _location_header(value) -> tuple[dict, dict]:
    if isinstance(value, dict) and isinstance(value.get("location"), dict):
        value = value["location"]
    if not isinstance(value, dict):
        raise _error("header", "required", _("The header is a location: give latitude and longitude."))
    location = {}
    for key, low, high in (("latitude", -90, 90), ("longitude", -180, 180)):
        try:
            number = float(value.get(key))
        except (TypeError, ValueError):
            raise _error(f"header.{key}", "required", _("header.%(key)s must be a number.") % {"key": key}) from None
        if not low <= number <= high:
            raise _error(f"header.{key}", "out_of_range", _("header.%(key)s is out of range.") % {"key": key})
        location[key] = number
    for key in ("name", "address"):
        if value.get(key):
            location[key] = str(value[key])
    return {"type": "location", "location": location}, {"type": "location", **location}


def _button_values(given) -> dict[str, object]:
    if given is None or given == "":
        return {}
    if isinstance(given, dict):
        return {str(k): v for k, v in given.items()}
    if isinstance(given, list):
        result = {}
        for position, item in enumerate(given):
            # [{"index": 0, "sub_type": "url", "parameters": [{"type": "text", "text": ".."}]}] (Meta's shape)
            if isinstance(item, dict) and "index" in item:
                params = item.get("parameters") or []
                value = params[0] if params else item.get("value")
                if isinstance(value, dict):
                    value = value.get("text") or value.get("payload") or value.get("coupon_code") or value
                result[str(item["index"])] = value
            elif item is not None:
                result[str(position)] = item
        return result
    raise _error("buttons", "invalid", _("buttons must map each button's index to its value."))


def _button_component(template, index: int, button: dict, value) -> tuple[dict | None, dict]:
    kind = button_kind(template, button)
    where = f"buttons[{index}]"
    shown = {"type": kind, "text": button.get("text") or ""}
    takes = button_takes_parameter(template, button)
    if isinstance(value, dict):
        value = value.get("text") or value.get("payload") or value.get("coupon_code") or ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if value is not None and not isinstance(value, str):
        raise _error(where, "invalid", _("%(field)s must be text.") % {"field": where})
    value = (value or "").strip() if value is not None else None
    if not takes:
        if value:
            raise _error(where, "not_allowed", _("Button %(index)d (%(kind)s) takes no parameter.")
                         % {"index": index, "kind": kind})
        if kind == "url":
            shown["url"] = button.get("url", "")
        if kind == "phone_number":
            shown["phone_number"] = button.get("phone_number", "")
        return None, shown
    if kind == "quick_reply":
        if not value:
            return None, shown
        if len(value) > PAYLOAD_MAX:
            raise _error(where, "too_long", _("%(field)s: a payload is at most %(n)d characters.")
                         % {"field": where, "n": PAYLOAD_MAX})
        shown["payload"] = value
        return {"type": "button", "sub_type": "quick_reply", "index": str(index),
                "parameters": [{"type": "payload", "payload": value}]}, shown
    if not value:
        what = {"url": _("the end of its URL"), "copy_code": _("the code to copy"),
                "otp": _("the one-time password")}.get(kind, _("a value"))
        raise _error(where, "required", _("Button %(index)d (%(kind)s) needs %(what)s.")
                     % {"index": index, "kind": kind, "what": what})
    if kind == "url":
        if len(value) > URL_SUFFIX_MAX or any(c.isspace() for c in value):
            raise _error(where, "invalid", _("%(field)s: the URL suffix has no spaces and at most %(n)d characters.")
                         % {"field": where, "n": URL_SUFFIX_MAX})
        shown["url"] = PLACEHOLDER_RE.sub(value, button.get("url", ""))
        return {"type": "button", "sub_type": "url", "index": str(index),
                "parameters": [{"type": "text", "text": value}]}, shown
    if kind == "copy_code":
        if len(value) > COUPON_MAX:
            raise _error(where, "too_long", _("%(field)s: a code to copy is at most %(n)d characters.")
                         % {"field": where, "n": COUPON_MAX})
        shown["code"] = value
        return {"type": "button", "sub_type": "copy_code", "index": str(index),
                "parameters": [{"type": "coupon_code", "coupon_code": value}]}, shown
    # otp
    if len(value) > OTP_MAX:
        raise _error(where, "too_long", _("%(field)s: a one-time password is at most %(n)d characters.")
                     % {"field": where, "n": OTP_MAX})
    shown["code"] = value
    return {"type": "button", "sub_type": "url", "index": str(index),
            "parameters": [{"type": "text", "text": value}]}, shown


def template_unsendable_reason(template) -> str:
    """Why the template cannot be sent now ("" when it can)."""
    if template.deleted_at is not None or template.status in ("DELETED", "PENDING_DELETION"):
        return _("Template %(name)s was deleted at Meta.") % {"name": template.name}
    if template.status == SENDABLE:
        return ""
    reasons = {
        "PAUSED": _("Template %(name)s is paused by Meta for low quality; it cannot be sent until it is resumed."),
        "DISABLED": _("Template %(name)s is disabled by Meta for low quality; it cannot be sent."),
        "REJECTED": _("Template %(name)s was rejected by Meta (%(reason)s); edit and resubmit it."),
        "PENDING": _("Template %(name)s is still in review at Meta; it can be sent once approved."),
        "DRAFT": _("Template %(name)s was not submitted to Meta yet."),
    }
    message = reasons.get(template.status, _("Template %(name)s is %(status)s: only approved templates can be sent."))
    return message % {"name": template.name, "status": template.get_status_display(),
                      "reason": template.rejection_reason or _("no reason given")}


def template_render(*, template, parameters: dict | None) -> RenderedTemplate:
    """The exact template the customer will see from `parameters` (see the module's
    docstring), with Meta's send components. Raises SendError naming the component
    and the parameter. Does not check whether the template may be sent now."""
    parameters = parameters if parameters is not None else {}
    if not isinstance(parameters, dict):
        raise _error("parameters", "invalid", _("parameters must be an object with header, body and buttons."))
    unknown = set(parameters) - {"header", "body", "buttons"}
    if unknown:
        raise _error(sorted(unknown)[0], "invalid", _("Unknown component %(name)s: use header, body and buttons.")
                     % {"name": sorted(unknown)[0]})
    named = template.parameter_format == "NAMED"
    by_type = _by_type(template)
    rendered = RenderedTemplate(name=template.name, language=template.language)
    body_given = parameters.get("body")
    button_values = _button_values(parameters.get("buttons"))
    buttons = template_buttons(template)
    otp_index = next((i for i, b in enumerate(buttons) if button_kind(template, b) == "otp"), None)
    if otp_index is not None:
        # The one-time password is both the body's {{1}} and the button's value: one is enough.
        code = button_values.get(str(otp_index))
        if not code and body_given:
            code = body_given[0] if isinstance(body_given, list) else (
                body_given.get("1") if isinstance(body_given, dict) else body_given)
            button_values[str(otp_index)] = code
        if code and not body_given:
            body_given = [code]

    header = by_type.get("HEADER")
    if header is not None:
        fmt = str(header.get("format", "TEXT")).upper()
        rendered.header_format = fmt
        if fmt == "TEXT":
            wanted = placeholders(header.get("text", ""))
            values = _values(template, "header", parameters.get("header"), wanted)
            params, shown = [], {}
            for key, value in values:
                param, shown[key] = _parameter("header", key, value, named=named, allow_typed=False)
                params.append(param)
            rendered.header = _substitute(header.get("text", ""), shown)
            if len(rendered.header) > HEADER_MAX:
                raise _error("header", "too_long", _("The header is at most %(n)d characters with its parameters.")
                             % {"n": HEADER_MAX})
            if params:
                rendered.components.append({"type": "header", "parameters": params})
        elif fmt in MEDIA_FORMATS:
            param, rendered.header_media = _media_header(fmt, parameters.get("header"))
            rendered.components.append({"type": "header", "parameters": [param]})
        elif fmt == "LOCATION":
            param, rendered.header_media = _location_header(parameters.get("header"))
            rendered.components.append({"type": "header", "parameters": [param]})
    elif parameters.get("header"):
        raise _error("header", "not_allowed", _("This template has no header."))

    text = body_text(template)
    wanted = placeholders(text)
    values = _values(template, "body", body_given, wanted)
    params, shown = [], {}
    for key, value in values:
        param, shown[key] = _parameter("body", key, value, named=named, allow_typed=True)
        params.append(param)
    rendered.body = _substitute(text, shown)
    if params:
        rendered.components.append({"type": "body", "parameters": params})
    rendered.footer = footer_text(template)

    for key in button_values:
        if not key.isdigit() or int(key) >= len(buttons):
            raise _error(f"buttons[{key}]", "not_found", _("This template has no button %(index)s (it has %(n)d).")
                         % {"index": key, "n": len(buttons)})
    for index, button in enumerate(buttons):
        component, shown_button = _button_component(template, index, button, button_values.get(str(index)))
        rendered.buttons.append(shown_button)
        if component is not None:
            rendered.components.append(component)
    return rendered


# --- prefill from the contact's or an event's fields ------------------------------------------


CONTACT_FIELDS = ("name", "display_name", "profile_name", "phone", "wa_id")


def _source_value(source: str, *, contact, fields: dict | None):
    """The value `source` names, or None when it is missing."""
    source = str(source or "").strip()
    if source.startswith("text:"):
        return source[5:]
    root, _dot, path = source.partition(".")
    if root == "contact":
        if contact is None:
            return None
        if path.startswith("attributes."):
            value = (contact.attributes or {}).get(path[len("attributes."):])
        elif path in CONTACT_FIELDS:
            value = contact.display_name if path in ("name", "display_name") and not contact.name else getattr(contact, path)
        else:
            return None
    elif root == "event":
        value = fields or {}
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    else:
        return None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def mapping_errors(template, mapping) -> list[str]:
    """What is wrong with a parameter mapping for `template` (empty when fine)."""
    if not isinstance(mapping, dict):
        return [_("The mapping must be an object of slot to source.")]
    known = {s["slot"] for s in slots(template)}
    problems = []
    for slot, source in mapping.items():
        if slot not in known:
            problems.append(_("%(slot)s is not a parameter of %(template)s (it takes: %(known)s).")
                            % {"slot": slot, "template": template.name, "known": ", ".join(sorted(known)) or "-"})
        root = str(source).split(".", 1)[0] if isinstance(source, str) else ""
        if not isinstance(source, str) or not (source.startswith("text:") or root in ("contact", "event")):
            problems.append(_("%(slot)s: a source is contact.<field>, contact.attributes.<key>, event.<field> "
                              "or text:<fixed text>.") % {"slot": slot})
    return problems


def template_prefill(*, template, mapping: dict | None = None, contact=None,
                     fields: dict | None = None) -> tuple[dict, list[tuple[str, str]]]:
    """Parameters for template_render from a slot-to-source mapping (the template's own
    prefill, overridden by `mapping`). Returns (parameters, missing) where missing lists
    (slot, source) pairs whose source had no value."""
    combined = {**(template.parameter_mapping or {}), **(mapping or {})}
    parameters: dict = {}
    missing: list[tuple[str, str]] = []
    by_slot = {s["slot"]: s for s in slots(template)}
    for slot_name, source in combined.items():
        slot = by_slot.get(slot_name)
        if slot is None:
            continue
        value = _source_value(source, contact=contact, fields=fields)
        if value is None:
            missing.append((slot_name, source))
            continue
        if slot["component"] == "buttons":
            parameters.setdefault("buttons", {})[slot["key"]] = value
        elif slot_name == "header":
            parameters["header"] = value if isinstance(value, dict) else {"link": str(value)}
        else:
            parameters.setdefault(slot["component"], {})[slot["key"]] = value
    return parameters, missing


# --- the send use-case's door ---------------------------------------------------------------


def template_payload_render(*, organization_id: int, number, payload: dict):
    """A template send as message_send receives it: find the template, check it may be
    sent, render it. Returns (template, content, text): content is Meta's template
    object exactly as sent (the send task posts it as is), text the plain text the
    customer sees (header, body, footer, buttons); `template_message_rendered`
    gives the inbox the parts.

    Payload: {name, language, header?, body?, buttons?}, with the older spellings
    `parameters` (the body) and `header_parameters` (a text header's) still taken.
    """
    from django.db.models import F

    from .models import MessageTemplate

    name = payload.get("name")
    language = payload.get("language")
    if isinstance(language, dict):
        language = language.get("code")
    if not name:
        raise SendError("template.name", "required", _("template.name is required."))
    if not language:
        raise SendError("template.language", "required", _("template.language is required."))
    templates = MessageTemplate.objects.filter(organization_id=organization_id, name=name, language=language)
    if number.waba_id:
        templates = templates.filter(waba_id=number.waba_id)
    # A live template before a deleted one of the same name (numbers without a WABA id).
    template = templates.order_by(F("deleted_at").asc(nulls_first=True), "pk").first()
    if template is None:
        raise SendError("template.name", "not_found",
                        _("No template %(name)s in %(language)s.") % {"name": name, "language": language})
    reason = template_unsendable_reason(template)
    if reason:
        raise SendError("template.name", "not_approved", reason, extra={"template_status": template.status})
    aliases = {}
    parameters = {}
    for key, legacy in (("header", "header_parameters"), ("body", "parameters"), ("buttons", None)):
        if payload.get(key) not in (None, "", [], {}):
            parameters[key] = payload[key]
        elif legacy and payload.get(legacy) not in (None, "", [], {}):
            parameters[key] = payload[legacy]
            aliases[key] = legacy
        elif legacy == "parameters" and "parameters" in payload:
            aliases[key] = legacy
    try:
        rendered = template_render(template=template, parameters=parameters)
    except SendError as error:
        component, dot, rest = error.field.partition(".")
        component = aliases.get(component, component)
        error.field = f"template.{component}{dot}{rest}"
        raise
    return template, rendered.meta_object(), rendered.text


def parameters_from_components(components: list | None) -> dict:
    """Meta's send components back into template_render's parameters."""
    parameters: dict = {}
    for component in components or []:
        if not isinstance(component, dict):
            continue
        kind = component.get("type")
        params = [p for p in component.get("parameters") or [] if isinstance(p, dict)]
        if kind in ("header", "body"):
            if kind == "header" and params and params[0].get("type") in ("image", "video", "document", "location"):
                parameters["header"] = params[0]
                continue
            if params and all(p.get("parameter_name") for p in params):
                parameters[kind] = {p["parameter_name"]: {k: v for k, v in p.items() if k != "parameter_name"}
                                    for p in params}
            else:
                parameters[kind] = params
        elif kind == "button" and params:
            value = params[0]
            parameters.setdefault("buttons", {})[str(component.get("index", 0))] = (
                value.get("text") or value.get("payload") or value.get("coupon_code") or ""
            )
    return parameters


def template_message_rendered(*, message) -> dict:
    """What a sent template message showed the customer, for the inbox: header,
    header_format, header_media, body, footer, buttons and text (see
    RenderedTemplate.as_content). Rendered again from the message's content and the
    stored template; when the template is gone or changed, the stored text only."""
    from .models import MessageTemplate

    content = message.content or {}
    fallback = {"header": "", "header_format": "", "header_media": None, "body": message.text or "",
                "footer": "", "buttons": [], "text": message.text or ""}
    language = (content.get("language") or {}).get("code") if isinstance(content.get("language"), dict) else None
    templates = MessageTemplate.objects.filter(organization_id=message.organization_id, name=content.get("name"),
                                               language=language or "")
    number = getattr(message, "number", None)
    if number is not None and number.waba_id:
        templates = templates.filter(waba_id=number.waba_id)
    template = templates.first()
    if template is None:
        return fallback
    try:
        rendered = template_render(template=template, parameters=parameters_from_components(content.get("components")))
    except SendError:
        return fallback
    return rendered.as_content()
