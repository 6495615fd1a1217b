"""The notification rule's admin form: each parameter of the chosen template is mapped
by choosing where its value comes from (a field of the contact, a field of the event,
or a fixed text), and the choices are stored as the slot-to-source JSON the send reads
(apps/message_templates/render/prefill.py).

The page carries what the choices are built from (every offered template's parameters,
the contact's fields and each event type's known fields) as a JSON data block;
static/notifications/mapping.js turns the JSON box into one select per parameter. The
box stays the field that is posted, so the page works without script, and the same
validation answers both."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.message_templates.render import CONTACT_FIELDS, mapping_errors, slots

from .models import NotificationRule

EVENT_FIELD = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
ATTRIBUTE_KEY = re.compile(r"^[^\s.]+$")


def slot_label(slot: dict) -> str:
    """A parameter as the admin reads it: "Body {{1}}", "Header {{name}}", "Button 1 (Track)"."""
    if slot["component"] == "buttons":
        label = _("Button %(number)d") % {"number": int(slot["key"]) + 1}
        return f"{label} ({slot['label']})" if slot.get("label") else label
    if slot["slot"] == "header":
        return _("Header (%(kind)s)") % {"kind": slot["kind"]}
    part = _("Header") if slot["component"] == "header" else _("Body")
    return f"{part} {{{{{slot['key']}}}}}"


def source_problems(slot: str, source) -> list[str]:
    """What is wrong with one source, for a field that exists (empty when fine)."""
    if not isinstance(source, str):
        return []  # mapping_errors says what a source is
    root, _dot, path = source.partition(".")
    if source.startswith("text:"):
        if not source[5:].strip():
            return [_("%(slot)s: the fixed text is empty.") % {"slot": slot}]
        return []
    if root == "contact":
        if path.startswith("attributes."):
            if not ATTRIBUTE_KEY.match(path[len("attributes."):]):
                return [_("%(slot)s: %(source)s names no attribute of the contact.")
                        % {"slot": slot, "source": source}]
            return []
        if path not in CONTACT_FIELDS:
            return [_("%(slot)s: %(source)s is not a field of the contact (it has: %(fields)s).")
                    % {"slot": slot, "source": source, "fields": ", ".join(CONTACT_FIELDS)}]
        return []
    if root == "event" and not EVENT_FIELD.match(path):
        return [_("%(slot)s: %(source)s names no event field (letters, digits, _ and - joined by dots).")
                % {"slot": slot, "source": source}]
    return []


def mapping_problems(template, mapping) -> list[str]:
    """Every problem of `mapping` for `template`: a slot the template lacks, a source of
    no known kind, a field the contact does not have, an empty fixed text."""
    problems = mapping_errors(template, mapping)
    if isinstance(mapping, dict):
        for slot, source in mapping.items():
            problems.extend(source_problems(slot, source))
    return problems


class MappingWidget(forms.Textarea):
    """The JSON box, with the data mapping.js builds the selects from."""

    template_name = "notifications/mapping_widget.html"

    def __init__(self, attrs=None):
        super().__init__({"rows": 4, "class": "vLargeTextField mapping-json", **(attrs or {})})
        self.choices_data: dict = {}

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["choices_data"] = self.choices_data
        context["widget"]["choices_id"] = f"{context['widget']['attrs'].get('id') or name}-choices"
        return context

    class Media:
        js = ["notifications/mapping.js"]
        css = {"all": ["notifications/mapping.css"]}


def choices_data(templates, event_fields: dict[str, list[str]]) -> dict:
    """What the selects are built from: each template's parameters, the sources to
    choose from, and the words of the page."""
    return {
        "templates": {str(t.pk): [{"slot": s["slot"], "label": slot_label(s), "example": s.get("example") or ""}
                                  for s in slots(t)] for t in templates},
        "contact": [[f"contact.{name}", name] for name in CONTACT_FIELDS],
        "events": {event_type: [f"event.{name}" for name in names] for event_type, names in event_fields.items()},
        "words": {
            "prefill": _("The template's prefill"),
            "contact": _("Contact"),
            "event": _("Event"),
            "text": _("Fixed text…"),
            "other": _("Another event field…"),
            "text_label": _("Fixed text for %(slot)s"),
            "other_label": _("Event field for %(slot)s"),
            "none": _("Choose a template: its parameters are mapped here."),
            "no_parameters": _("This template takes no parameters."),
            "example": _("example: %(example)s"),
        },
    }


class NotificationRuleForm(forms.ModelForm):
    class Meta:
        model = NotificationRule
        fields = ["organization", "event_type", "number", "template", "parameter_mapping", "active"]
        widgets = {"parameter_mapping": MappingWidget}
        help_texts = {
            "parameter_mapping": gettext_lazy(
                "Choose for each parameter of the template where its value comes from. Parameters left to "
                "the template's prefill use it."),
        }

    # Each event type's known fields, as the admin page sets them for its user
    # (selectors.event_fields_for_user).
    known_event_fields: dict[str, list[str]] = {}  # noqa: RUF012 - replaced, never changed

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.event_fields = {event_type: list(names) for event_type, names in self.known_event_fields.items()}
        self.offer_choices()

    def offer_choices(self) -> None:
        """Give the mapping widget its data (the template field's choices are already
        the organisation's: apps/accounts/admin_scoping.py)."""
        field = self.fields.get("parameter_mapping")
        template = self.fields.get("template")
        if field is None or template is None:
            return
        mapped = self.initial.get("parameter_mapping") or {}
        event_type = self.initial.get("event_type")
        if event_type and isinstance(mapped, dict):
            # The fields the rule maps already are known fields of its event.
            known = self.event_fields.setdefault(event_type, [])
            for source in mapped.values():
                if isinstance(source, str) and source.startswith("event.") and source[6:] not in known:
                    known.append(source[6:])
        field.widget.choices_data = choices_data(template.queryset, self.event_fields)

    def clean_parameter_mapping(self):
        # A parameter left to the template's prefill is not stored.
        mapping = self.cleaned_data.get("parameter_mapping")
        if isinstance(mapping, dict):
            return {slot: source for slot, source in mapping.items() if source not in ("", None)}
        return mapping

    def clean(self):
        data = super().clean()
        template, mapping = data.get("template"), data.get("parameter_mapping") or {}
        number = data.get("number")
        if template is not None:
            problems = mapping_problems(template, mapping)
            if problems:
                self.add_error("parameter_mapping", problems)
            if number is not None and number.waba_id and template.waba_id != number.waba_id:
                self.add_error("template", _("This template belongs to another WhatsApp Business Account than the "
                                             "number's."))
        return data
