"""Values prefilled from the contact and the conversation, and a sent template's
message rendered back for the thread."""

from __future__ import annotations

from django.utils.translation import gettext as _

from apps.core.errors import SendError

from .parameters import template_unsendable_reason, template_render
from .structure import slots


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

    from ..models import MessageTemplate

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
    for key, legacy in (("header", "header_parameters"), ("body", "parameters"), ("buttons", None),
                        ("limited_time_offer", None), ("cards", None)):
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
                value.get("action") if isinstance(value.get("action"), dict)
                else value.get("text") or value.get("payload") or value.get("coupon_code") or ""
            )
        elif kind == "limited_time_offer" and params:
            parameters["limited_time_offer"] = params[0].get("limited_time_offer") or {}
        elif kind == "carousel":
            cards = sorted((c for c in component.get("cards") or [] if isinstance(c, dict)),
                           key=lambda c: int(c.get("card_index", 0)) if str(c.get("card_index", 0)).isdigit() else 0)
            parameters["cards"] = [parameters_from_components(c.get("components")) for c in cards]
    return parameters


def template_message_rendered(*, message) -> dict:
    """What a sent template message showed the customer, for the inbox: header,
    header_format, header_media, body, footer, buttons and text (see
    RenderedTemplate.as_content). Rendered again from the message's content and the
    stored template; when the template is gone or changed, the stored text only."""
    from ..models import MessageTemplate

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
