"""A sender's parameters checked against the template and rendered to the components Meta expects."""

from __future__ import annotations

from dataclasses import field
import re

from django.utils.translation import gettext as _

from apps.core.errors import SendError

from .structure import (
    PLACEHOLDER_RE, HEADER_MAX, COUPON_MAX, OTP_MAX, URL_SUFFIX_MAX, PAYLOAD_MAX, MEDIA_FORMATS, SENDABLE,
    RenderedTemplate, _by_type, placeholders, body_text, footer_text, template_buttons, button_kind,
    button_takes_parameter, offer_definition, unsupported_parts,
)
from .parts import carousel_component, catalog_button, flow_button, offer_component


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
                    value = (value.get("text") or value.get("payload") or value.get("coupon_code")
                             or value.get("action") or value)
                result[str(item["index"])] = value
            elif item is not None:
                result[str(position)] = item
        return result
    raise _error("buttons", "invalid", _("buttons must map each button's index to its value."))


def _button_component(template, index: int, button: dict, value) -> tuple[dict | None, dict]:
    kind = button_kind(template, button)
    if kind == "flow":
        return flow_button(index, button, value)
    if kind == "catalog":
        return catalog_button(index, button, value)
    where = f"buttons[{index}]"
    shown = {"type": kind, "text": button.get("text") or _default_label(template, kind)}
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


def _default_label(template, kind: str) -> str:
    """The label WhatsApp shows on a button Meta defines without text (copy code)."""
    if kind != "copy_code":
        return ""
    return _("Copy offer code") if offer_definition(template) is not None else _("Copy code")


def template_unsendable_reason(template) -> str:
    """Why the template cannot be sent now ("" when it can)."""
    if template.deleted_at is not None or template.status in ("DELETED", "PENDING_DELETION"):
        return _("Template %(name)s was deleted at Meta.") % {"name": template.name}
    if template.status == SENDABLE:
        unsupported = unsupported_parts(template)
        if unsupported:
            return _("Template %(name)s has parts this inbox cannot send yet (%(parts)s): send it from another "
                     "tool, or use another template.") % {"name": template.name, "parts": ", ".join(unsupported)}
        return ""
    reasons = {
        "PAUSED": _("Template %(name)s is paused by Meta for low quality; it cannot be sent until it is resumed."),
        "DISABLED": _("Template %(name)s is disabled by Meta for low quality; it cannot be sent."),
        "REJECTED": _("Template %(name)s was rejected by Meta (%(reason)s); edit and resubmit it."),
        "PENDING": _("Template %(name)s is still in review at Meta; it can be sent once approved."),
        "DRAFT": _("Template %(name)s was not submitted to Meta yet."),
        "ARCHIVED": _("Template %(name)s is archived at Meta: unarchive it (in admin, within 28 days of its "
                      "archiving) to send it."),
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
    unknown = set(parameters) - {"header", "body", "buttons", "limited_time_offer", "cards"}
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

    offer = by_type.get("LIMITED_TIME_OFFER")
    if offer is not None:
        component, rendered.offer = offer_component(offer, parameters.get("limited_time_offer"))
        if component is not None:
            rendered.components.append(component)
    elif parameters.get("limited_time_offer"):
        raise _error("limited_time_offer", "not_allowed", _("This template has no limited-time offer."))

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

    carousel = by_type.get("CAROUSEL")
    if carousel is not None:
        component, rendered.cards = carousel_component(
            template, carousel, parameters.get("cards"),
            render_card=lambda index, card, values: _render_card(template, card, values, named=named))
        rendered.components.append(component)
    elif parameters.get("cards"):
        raise _error("cards", "not_allowed", _("This template has no carousel."))
    return rendered


def _render_card(template, card: dict, values: dict, *, named: bool) -> tuple[list[dict], dict]:
    """One carousel card: its send components (header media, body parameters, buttons)
    and what it shows. Errors name the card's own field (the caller adds the card)."""
    unknown = set(values) - {"header", "body", "buttons"}
    if unknown:
        raise _error(min(unknown), "invalid", _("Unknown component %(name)s: use header, body and buttons.")
                     % {"name": min(unknown)})
    by_type = {str(c.get("type", "")).upper(): c for c in card.get("components") or [] if isinstance(c, dict)}
    components: list[dict] = []
    shown: dict = {"header_format": "", "header_media": None, "body": "", "buttons": []}
    header = by_type.get("HEADER")
    if header is not None:
        fmt = str(header.get("format", "IMAGE")).upper()
        param, shown["header_media"] = _media_header(fmt, values.get("header"))
        shown["header_format"] = fmt
        components.append({"type": "header", "parameters": [param]})
    text = (by_type.get("BODY") or {}).get("text") or ""
    params, texts = [], {}
    for key, value in _values(template, "body", values.get("body"), placeholders(text)):
        param, texts[key] = _parameter("body", key, value, named=named, allow_typed=True)
        params.append(param)
    shown["body"] = _substitute(text, texts)
    if params:
        components.append({"type": "body", "parameters": params})
    buttons = [b for b in (by_type.get("BUTTONS") or {}).get("buttons") or [] if isinstance(b, dict)]
    given = _button_values(values.get("buttons"))
    for key in given:
        if not key.isdigit() or int(key) >= len(buttons):
            raise _error(f"buttons[{key}]", "not_found", _("This template has no button %(index)s (it has %(n)d).")
                         % {"index": key, "n": len(buttons)})
    for index, button in enumerate(buttons):
        component, shown_button = _button_component(template, index, button, given.get(str(index)))
        shown["buttons"].append(shown_button)
        if component is not None:
            components.append(component)
    return components, shown
