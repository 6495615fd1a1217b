"""Meta's rules for a new template, checked before it is submitted.

`template_definition_check(...)` returns the create payload for
POST /{waba-id}/message_templates, or raises `TemplateDefinitionError` with every
problem found, each naming the component and the rule, so the admin form and the
API show them all at once.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from .render import PLACEHOLDER_RE, placeholders

NAME_RE = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
NAMED_PARAM_RE = re.compile(r"^[a-z][a-z0-9_]*$")
CATEGORIES = ("AUTHENTICATION", "MARKETING", "UTILITY")
HEADER_FORMATS = ("TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
BUTTON_TYPES = ("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP")
OTP_TYPES = ("COPY_CODE", "ONE_TAP", "ZERO_TAP")
HEADER_MAX, BODY_MAX, FOOTER_MAX = 60, 1024, 60
BUTTONS_MAX, URL_BUTTONS_MAX, BUTTON_TEXT_MAX = 10, 2, 25
URL_MAX, PHONE_MAX, COUPON_MAX = 2000, 20, 15


class TemplateDefinitionError(Exception):
    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(f"{f}: {m}" for f, m in errors))
        self.errors = errors  # [(field, message)]

    def as_dict(self) -> dict:
        field, message = self.errors[0]
        return {"field": field, "code": "invalid", "message": message,
                "errors": [{"field": f, "message": m} for f, m in self.errors]}


def _check_text_params(errors, where: str, text: str, parameter_format: str, example, kind: str, *, edges: bool):
    """Placeholders of `text` follow the format; every one has an example."""
    found = placeholders(text)
    if not found:
        return []
    if parameter_format == "POSITIONAL":
        if not all(p.isdigit() for p in found) or [int(p) for p in found] != list(range(1, len(found) + 1)):
            errors.append((where, _("Positional parameters are {{1}}, {{2}}, ... in sequence, without gaps "
                                    "(found: %(found)s).") % {"found": ", ".join("{{%s}}" % p for p in found)}))
            return found
        values = (example or {}).get(f"{kind}_text") or []
        if values and isinstance(values[0], list):
            values = values[0]
        if len(values) != len(found) or any(not str(v).strip() for v in values):
            errors.append((f"{where}.example", _("Give one example value for each parameter (%(n)d).")
                           % {"n": len(found)}))
    else:
        bad = [p for p in found if not NAMED_PARAM_RE.match(p)]
        if bad:
            errors.append((where, _("Named parameters are lowercase letters, digits and underscores, starting "
                                    "with a letter (bad: %(bad)s).") % {"bad": ", ".join(bad)}))
            return found
        given = {str(p.get("param_name")): p.get("example") for p in (example or {}).get(f"{kind}_text_named_params") or []
                 if isinstance(p, dict)}
        absent = [p for p in found if not str(given.get(p) or "").strip()]
        if absent:
            errors.append((f"{where}.example", _("Give an example for %(names)s.") % {"names": ", ".join(absent)}))
    if edges:
        stripped = text.strip()
        if PLACEHOLDER_RE.match(stripped) or re.search(r"\{\{\s*[A-Za-z0-9_]+\s*\}\}$", stripped):
            errors.append((where, _("The body cannot start or end with a parameter: Meta rejects it.")))
    return found


def template_definition_check(*, name: str, language: str, category: str, parameter_format: str,
                              components: list) -> dict:
    """Meta's create payload for a valid definition; TemplateDefinitionError otherwise."""
    errors: list[tuple[str, str]] = []
    if not NAME_RE.match(name or ""):
        errors.append(("name", _("Lowercase letters, digits and underscores only, at most 512 characters.")))
    if not LANGUAGE_RE.match(language or ""):
        errors.append(("language", _("A language code such as en_US, pt_BR or es.")))
    if category not in CATEGORIES:
        errors.append(("category", _("AUTHENTICATION, MARKETING or UTILITY.")))
    if parameter_format not in ("POSITIONAL", "NAMED"):
        errors.append(("parameter_format", _("POSITIONAL or NAMED.")))
    if not isinstance(components, list):
        raise TemplateDefinitionError(errors + [("components", _("A list of components."))])
    by_type: dict[str, dict] = {}
    for index, component in enumerate(components):
        kind = str((component or {}).get("type", "")).upper() if isinstance(component, dict) else ""
        if kind not in ("HEADER", "BODY", "FOOTER", "BUTTONS"):
            errors.append((f"components[{index}]", _("A component is HEADER, BODY, FOOTER or BUTTONS.")))
            continue
        if kind in by_type:
            errors.append((kind.lower(), _("Only one %(kind)s.") % {"kind": kind}))
        by_type[kind] = {**component, "type": kind}
    auth = category == "AUTHENTICATION"

    header = by_type.get("HEADER")
    if header is not None:
        fmt = str(header.get("format", "")).upper()
        header["format"] = fmt
        if auth:
            errors.append(("header", _("Authentication templates have no header.")))
        elif fmt not in HEADER_FORMATS:
            errors.append(("header.format", _("TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION.")))
        elif fmt == "TEXT":
            text = header.get("text") or ""
            if not text.strip() or len(text) > HEADER_MAX:
                errors.append(("header.text", _("Header text is 1 to %(n)d characters.") % {"n": HEADER_MAX}))
            found = _check_text_params(errors, "header.text", text, parameter_format, header.get("example"),
                                       "header", edges=False)
            if len(found) > 1:
                errors.append(("header.text", _("A text header takes at most one parameter.")))
            bare = PLACEHOLDER_RE.sub("", text)
            if any(ch in bare for ch in "\n*_~") or re.search(r"[\U0001F300-\U0001FAFF]", bare):
                errors.append(("header.text", _("Header text has no new lines, formatting or emoji.")))
        elif fmt in ("IMAGE", "VIDEO", "DOCUMENT"):
            handle = (header.get("example") or {}).get("header_handle")
            if not handle or not isinstance(handle, list) or not str(handle[0]).strip():
                errors.append(("header.example", _("A %(kind)s header needs an example: the handle of a sample "
                                                   "file uploaded to Meta.") % {"kind": fmt.lower()}))

    body = by_type.get("BODY")
    if auth:
        if body is not None and body.get("text"):
            errors.append(("body.text", _("Authentication templates use Meta's fixed text; leave the body empty.")))
    elif body is None or not str(body.get("text") or "").strip():
        errors.append(("body.text", _("The body is required.")))
    else:
        text = body["text"]
        if len(text) > BODY_MAX:
            errors.append(("body.text", _("The body is at most %(n)d characters (it has %(len)d).")
                           % {"n": BODY_MAX, "len": len(text)}))
        _check_text_params(errors, "body.text", text, parameter_format, body.get("example"), "body", edges=True)

    footer = by_type.get("FOOTER")
    if footer is not None:
        if auth:
            minutes = footer.get("code_expiration_minutes")
            if minutes is not None and (not isinstance(minutes, int) or not 1 <= minutes <= 90):
                errors.append(("footer.code_expiration_minutes", _("Between 1 and 90 minutes.")))
        else:
            text = footer.get("text") or ""
            if not text.strip() or len(text) > FOOTER_MAX:
                errors.append(("footer.text", _("Footer text is 1 to %(n)d characters.") % {"n": FOOTER_MAX}))
            if PLACEHOLDER_RE.search(text):
                errors.append(("footer.text", _("The footer takes no parameters.")))

    buttons = (by_type.get("BUTTONS") or {}).get("buttons")
    if by_type.get("BUTTONS") is not None and (not isinstance(buttons, list) or not buttons):
        errors.append(("buttons", _("Give at least one button, or remove the buttons.")))
        buttons = []
    buttons = buttons or []
    if len(buttons) > BUTTONS_MAX:
        errors.append(("buttons", _("At most %(n)d buttons.") % {"n": BUTTONS_MAX}))
    kinds = []
    for index, button in enumerate(buttons):
        where = f"buttons[{index}]"
        if not isinstance(button, dict):
            errors.append((where, _("A button is an object.")))
            continue
        kind = str(button.get("type", "")).upper()
        button["type"] = kind
        kinds.append(kind)
        if kind not in BUTTON_TYPES:
            errors.append((f"{where}.type", _("QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE or OTP.")))
            continue
        if kind == "OTP":
            if not auth:
                errors.append((where, _("One-time password buttons are for authentication templates.")))
            if str(button.get("otp_type", "")).upper() not in OTP_TYPES:
                errors.append((f"{where}.otp_type", _("COPY_CODE, ONE_TAP or ZERO_TAP.")))
            if str(button.get("otp_type", "")).upper() in ("ONE_TAP", "ZERO_TAP") and not button.get("supported_apps"):
                errors.append((f"{where}.supported_apps", _("One-tap and zero-tap buttons name the Android app "
                                                            "(package name and signature hash).")))
            continue
        if auth:
            errors.append((where, _("Authentication templates only have a one-time password button.")))
        if kind != "COPY_CODE":
            text = button.get("text") or ""
            if not text.strip() or len(text) > BUTTON_TEXT_MAX or PLACEHOLDER_RE.search(text):
                errors.append((f"{where}.text", _("Button text is 1 to %(n)d characters, without parameters.")
                               % {"n": BUTTON_TEXT_MAX}))
        if kind == "URL":
            url = button.get("url") or ""
            found = PLACEHOLDER_RE.findall(url)
            if not url.startswith(("https://", "http://")) or len(url) > URL_MAX:
                errors.append((f"{where}.url", _("An http(s) URL of at most %(n)d characters.") % {"n": URL_MAX}))
            elif found and (found != ["1"] or not re.search(r"\{\{1\}\}$", url)):
                errors.append((f"{where}.url", _("A URL takes one parameter, {{1}}, at its very end.")))
            elif found and not (button.get("example") or [""])[0]:
                errors.append((f"{where}.example", _("Give an example of the full URL for the dynamic suffix.")))
        elif kind == "PHONE_NUMBER":
            phone = re.sub(r"[^\d+]", "", str(button.get("phone_number") or ""))
            if not re.fullmatch(r"\+?\d{8,20}", phone):
                errors.append((f"{where}.phone_number", _("A phone number in international format, at most %(n)d "
                                                          "characters.") % {"n": PHONE_MAX}))
        elif kind == "COPY_CODE":
            example = button.get("example")
            example = example[0] if isinstance(example, list) and example else example
            if not example or len(str(example)) > COUPON_MAX:
                errors.append((f"{where}.example", _("An example code of at most %(n)d characters.")
                               % {"n": COUPON_MAX}))
    if kinds.count("URL") > URL_BUTTONS_MAX:
        errors.append(("buttons", _("At most %(n)d URL buttons.") % {"n": URL_BUTTONS_MAX}))
    if kinds.count("PHONE_NUMBER") > 1:
        errors.append(("buttons", _("At most one phone number button.")))
    if kinds.count("COPY_CODE") > 1:
        errors.append(("buttons", _("At most one copy code button.")))
    if auth and kinds.count("OTP") != 1:
        errors.append(("buttons", _("An authentication template has exactly one one-time password button.")))
    if "QUICK_REPLY" in kinds:
        # Meta wants the quick replies grouped together, not between other buttons.
        first, last = kinds.index("QUICK_REPLY"), len(kinds) - 1 - kinds[::-1].index("QUICK_REPLY")
        if any(k != "QUICK_REPLY" for k in kinds[first:last + 1]):
            errors.append(("buttons", _("Quick reply buttons must be grouped together (before or after the others).")))
    if errors:
        raise TemplateDefinitionError(errors)
    ordered = [by_type[k] for k in ("HEADER", "BODY", "FOOTER", "BUTTONS") if k in by_type]
    payload = {"name": name, "language": language, "category": category, "components": ordered}
    if not auth:
        payload["parameter_format"] = parameter_format
    return payload
