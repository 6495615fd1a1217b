"""The composer's template picker: the approved templates of a conversation's number,
one template's parameter fields (prefilled from the contact) with the exact preview,
and message_send's template payload from the fields typed."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _

from apps.accounts import access
from apps.core import params
from apps.messaging.validation import SendError


def templates_for(*, user, conversation, query: str = "", language=None) -> list:
    """Approved templates of the conversation's number (selector of the templates app),
    each with `unsendable`: why it cannot be sent from here ("" when it can; a template
    with parts no send of ours carries yet is listed, not offered)."""
    from apps.message_templates.render import template_unsendable_reason
    from apps.message_templates.selectors import template_list_for_user

    if not access.can_view_conversation(user, conversation):
        return []
    found = list(template_list_for_user(user=user, number=conversation.number, language=language,
                                        query=(query or "")[:100], sendable_only=True)[:50])
    for template in found:
        template.unsendable = template_unsendable_reason(template)
    return found


def template_get(*, user, conversation, pk):
    from apps.message_templates.selectors import template_get_for_user

    try:
        pk = params.positive_id(pk, field="template", required=True)
    except params.BadParameter:
        if isinstance(pk, int):  # a URL's id past bigint: no such template
            raise Http404 from None
        raise SendError("template", "required", _("Choose a template.")) from None
    template = template_get_for_user(user=user, template_id=pk)
    if template is None or not access.can_view_conversation(user, conversation):
        raise Http404
    if conversation.number.waba_id and template.waba_id != conversation.number.waba_id:
        raise Http404
    return template


def _contact_values(contact) -> dict:
    """Contact fields a parameter is prefilled from, by the parameter's name."""
    first = (contact.name or contact.profile_name or "").split(" ")[0]
    values = {"name": contact.display_name, "contact_name": contact.display_name, "customer_name": contact.display_name,
              "first_name": first, "phone": contact.phone, "wa_id": contact.wa_id}
    for key, value in (contact.attributes or {}).items():
        if value not in (None, ""):
            values[str(key)] = str(value)
    return values


def _slot_fields(*, conversation, template, given) -> list[dict]:
    """The picker's fields, one per parameter slot of the template (render.slots)."""
    from apps.message_templates.render import slots

    prefill = _contact_values(conversation.contact)
    fields = []
    for slot in slots(template):
        name = f"slot_{slot['slot']}"
        if given is not None:
            value = given.get(name, "")
        else:
            value = prefill.get(slot["key"], "") if slot["kind"] == "text" else ""
        label = {"header": _("Header"), "body": _("Body"), "buttons": _("Button"),
                 "limited_time_offer": _("Offer expires")}.get(slot["component"], "")
        if slot["component"] == "cards":
            label = _("Card %(n)d") % {"n": slot["card"] + 1}
            part, _dot, key = slot["key"].partition(".")
            display = slot["kind"] if part == "header" else (
                slot.get("label") or slot["kind"] if part == "buttons" else "{{%s}}" % key)
        elif slot["component"] == "limited_time_offer":
            display = ""
        else:
            display = slot.get("label") or slot["kind"] if slot["component"] == "buttons" else (
                "{{%s}}" % slot["key"] if slot["key"] else slot["kind"])
        fields.append({**slot, "name": name, "value": value, "label": label, "display": display,
                       "input": INPUTS.get(slot["kind"], "text")})
    return fields


# The input each kind of parameter is typed in (text for the others).
INPUTS = {"image": "url", "video": "url", "document": "url", "expiration": "datetime-local"}


def _parameters(template, fields, *, placeholder_empty: bool) -> dict:
    """render.template_render's parameters from the fields; for a preview an empty
    value shows as its placeholder."""
    from apps.message_templates.render import card_components

    named = template.parameter_format == "NAMED"
    header, body, buttons = {}, {}, {}
    cards = [{} for _card in card_components(template)]
    offer = None
    for f in fields:
        value = f["value"].strip()
        if not value:
            if not placeholder_empty or f["kind"] not in ("text",):
                continue
            value = f"[{f['key'].rpartition('.')[2]}]"
        if f["component"] == "cards":
            part, _dot, key = f["key"].partition(".")
            card = cards[f["card"]]
            if part == "header":
                card["header"] = {"link": value}
            else:
                card.setdefault(part, {})[key] = value
            continue
        if f["component"] == "limited_time_offer":
            offer = value
            continue
        if f["component"] == "header":
            header = {"link": value} if f["kind"] in ("image", "video", "document") else {**header, f["key"]: value}
        elif f["component"] == "body":
            body[f["key"]] = value
        else:
            buttons[f["key"]] = value
    parameters = {}
    if header:
        if "link" in header or named:
            parameters["header"] = header
        else:
            parameters["header"] = [header[k] for k in sorted(header, key=lambda k: int(k) if k.isdigit() else 0)]
    if body:
        parameters["body"] = body
    if buttons:
        parameters["buttons"] = buttons
    if offer:
        parameters["limited_time_offer"] = offer
    if any(cards):
        parameters["cards"] = cards
    return parameters


def template_form_context(*, conversation, template, given) -> dict:
    """The fields of `template` with their values (typed, or prefilled from the
    contact), the exact preview (render.template_render) and what is missing."""
    from apps.message_templates.render import template_render, template_unsendable_reason

    fields = _slot_fields(conversation=conversation, template=template, given=given)
    errors = [
        _("%(component)s parameter %(key)s is empty.") % {"component": f["label"], "key": f["display"]}
        for f in fields if f["required"] and not f["value"].strip()
    ]
    rendered = None
    try:
        rendered = template_render(template=template, parameters=_parameters(template, fields, placeholder_empty=True))
    except SendError as exc:
        errors.append(exc.message)
    return {"template": template, "fields": fields, "rendered": rendered, "preview_errors": errors,
            "unsendable": template_unsendable_reason(template)}


def template_payload(*, template, post) -> dict:
    """message_send's template payload from the picker's fields."""
    from apps.message_templates.render import slots

    fields = [{**slot, "value": post.get(f"slot_{slot['slot']}", "")} for slot in slots(template)]
    return {"name": template.name, "language": template.language,
            **_parameters(template, fields, placeholder_empty=False)}
