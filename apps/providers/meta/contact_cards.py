"""Contacts messages at Meta: one or more contact cards ("Contacts messages" in the
Cloud API reference). At most CONTACTS_MAX cards; each has a `name` with
`formatted_name` and at least one of first_name, last_name, middle_name, suffix,
prefix; optional `phones` [{phone, type, wa_id}], `emails` [{email, type}], `urls`
[{url, type}], `addresses` [{street, city, state, zip, country, country_code, type}],
`org` {company, department, title} and `birthday` (YYYY-MM-DD). Nothing here imports
from the domain."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from apps.core.errors import SendError

CONTACTS_MAX = 257
NAME_PARTS = ("first_name", "last_name", "middle_name", "suffix", "prefix")
TEXT_MAX = 1000
# Each list's item keys (unknown keys are refused: Meta answers 100 for them).
LISTS = {
    "phones": ("phone", ("phone", "type", "wa_id")),
    "emails": ("email", ("email", "type")),
    "urls": ("url", ("url", "type")),
    "addresses": (None, ("street", "city", "state", "zip", "country", "country_code", "type")),
}
ORG_KEYS = ("company", "department", "title")
_BIRTHDAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _text(value, field: str) -> str:
    if not isinstance(value, str):
        raise SendError(field, "invalid", _("%(field)s must be text.") % {"field": field})
    if len(value) > TEXT_MAX:
        raise SendError(field, "too_long", _("%(field)s is too long: at most %(limit)d characters (it has %(length)d).")
                        % {"field": field, "limit": TEXT_MAX, "length": len(value)})
    return value


def _object(value, field: str, keys: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise SendError(field, "invalid", _("%(field)s must be an object.") % {"field": field})
    for key in value:
        if key not in keys:
            raise SendError(f"{field}.{key}", "invalid", _("%(field)s is not a field Meta takes here (%(keys)s).")
                            % {"field": f"{field}.{key}", "keys": ", ".join(keys)})
    return {key: _text(item, f"{field}.{key}") for key, item in value.items() if item not in (None, "")}


def card(contact, index: int) -> dict:
    """One card as Meta takes it, or SendError naming the field."""
    field = f"contacts[{index}]"
    if not isinstance(contact, dict):
        raise SendError(field, "invalid", _("%(field)s must be an object.") % {"field": field})
    name = _object(contact.get("name"), f"{field}.name", ("formatted_name", *NAME_PARTS))
    if not name.get("formatted_name", "").strip():
        raise SendError(f"{field}.name.formatted_name", "required",
                        _("%(field)s is required.") % {"field": f"{field}.name.formatted_name"})
    if not any(name.get(part, "").strip() for part in NAME_PARTS):
        raise SendError(f"{field}.name", "required", _("%(field)s needs, besides formatted_name, at least one of %(parts)s.")
                        % {"field": f"{field}.name", "parts": ", ".join(NAME_PARTS)})
    built = {"name": name}
    for key, (required, keys) in LISTS.items():
        items = contact.get(key)
        if items in (None, []):
            continue
        if not isinstance(items, list):
            raise SendError(f"{field}.{key}", "invalid", _("%(field)s must be a list.") % {"field": f"{field}.{key}"})
        built[key] = []
        for i, item in enumerate(items):
            entry = _object(item, f"{field}.{key}[{i}]", keys)
            if required and not entry.get(required, "").strip():
                raise SendError(f"{field}.{key}[{i}].{required}", "required",
                                _("%(field)s is required.") % {"field": f"{field}.{key}[{i}].{required}"})
            built[key].append(entry)
    if contact.get("org"):
        built["org"] = _object(contact["org"], f"{field}.org", ORG_KEYS)
    if contact.get("birthday"):
        if not isinstance(contact["birthday"], str) or not _BIRTHDAY.fullmatch(contact["birthday"]):
            raise SendError(f"{field}.birthday", "invalid", _("%(field)s is a date written YYYY-MM-DD.")
                            % {"field": f"{field}.birthday"})
        built["birthday"] = contact["birthday"]
    unknown = set(contact) - {"name", "org", "birthday", *LISTS}
    if unknown:
        key = min(unknown)
        raise SendError(f"{field}.{key}", "invalid", _("%(field)s is not a field Meta takes here (%(keys)s).")
                        % {"field": f"{field}.{key}", "keys": "name, phones, emails, urls, addresses, org, birthday"})
    return built


def cards(contacts) -> list[dict]:
    if not isinstance(contacts, list) or not contacts:
        raise SendError("contacts", "required", _("At least one contact is required."))
    if len(contacts) > CONTACTS_MAX:
        raise SendError("contacts", "too_many", _("At most %(limit)d contacts in one message (there are %(count)d).")
                        % {"limit": CONTACTS_MAX, "count": len(contacts)})
    return [card(contact, index) for index, contact in enumerate(contacts)]
