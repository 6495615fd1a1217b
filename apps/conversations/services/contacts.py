"""Contacts: found or created by their identity at the provider (conversations.identity),
their profile, attributes and opt-outs."""

from __future__ import annotations

import logging
import unicodedata

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .. import access as contact_access
from ..identity import Identity, wa_id_normalise, wa_id_variants
from ..models import AuditLogEntry, Contact, Conversation
from .actions import _audit
from .contact_events import _contact_groups, _publish_contact  # noqa: F401

logger = logging.getLogger(__name__)


def contact_get_or_create(*, organization, wa_id: str, profile_name: str | None = None) -> Contact:
    """`contacts_get_or_create_many` for one wa_id."""
    return contacts_get_or_create_many(organization=organization, profiles={wa_id: profile_name or ""})[wa_id]


def contacts_get_or_create_many(*, organization, profiles: dict[str, str],
                                identities: dict[str, Identity] | None = None) -> dict[str, Contact]:
    """The organisation's contacts for any number of customers, created when new:
    `profiles` maps each customer's key to the profile name Meta sent (or ""), and
    `identities` the key to who the customer is (`Identity`; without it the keys are
    wa_ids). A contact is found by its wa_id or its user id; an identifier it lacks is
    added when a delivery brings it (the user id of a customer known by phone, the
    phone of one known by user id), the profile name and username refreshed. One
    SELECT and one INSERT however many. Safe under concurrency (a contact a
    concurrent first message created is read back). Returns key -> contact."""
    wanted = {key: (identities or {}).get(key) or Identity(wa_id=key) for key in profiles}
    found = _contacts_find(organization, wanted)
    missing = [key for key in wanted if key not in found]
    if missing:
        found.update(_contacts_of_other_form(organization, {key: wanted[key] for key in missing}))
        missing = [key for key in missing if key not in found]
    if missing:
        Contact.objects.bulk_create(
            [_new_contact(organization, wanted[key], profiles[key]) for key in missing],
            ignore_conflicts=True,  # a concurrent first message created it: read it below
        )
        found.update(_contacts_find(organization, {key: wanted[key] for key in missing}))
    for key, contact in found.items():
        contact.organization = organization
        contact_identity_refresh(contact, wanted[key])
        _profile_name_refresh(contact, profiles.get(key))
    return found


def _new_contact(organization, identity: Identity, profile_name: str) -> Contact:
    return Contact(organization=organization, wa_id=identity.wa_id, phone=f"+{identity.wa_id}" if identity.wa_id else "",
                   user_id=identity.user_id, parent_user_id=identity.parent_user_id, username=identity.username,
                   profile_name=profile_name or "")


def _contacts_find(organization, wanted: dict[str, Identity]) -> dict[str, Contact]:
    """key -> the contact with the key's wa_id, else with its user id."""
    wa_ids = {identity.wa_id for identity in wanted.values() if identity.wa_id}
    user_ids = {identity.user_id for identity in wanted.values() if identity.user_id}
    if not wa_ids and not user_ids:
        return {}
    match = Q(wa_id__in=wa_ids) if wa_ids else Q()
    if user_ids:
        match = match | Q(user_id__in=user_ids) if wa_ids else Q(user_id__in=user_ids)
    rows = list(Contact.objects.filter(match, organization=organization))
    by_wa_id = {c.wa_id: c for c in rows if c.wa_id}
    by_user_id = {c.user_id: c for c in rows if c.user_id}
    found = {}
    for key, identity in wanted.items():
        contact = by_wa_id.get(identity.wa_id) if identity.wa_id else None
        contact = contact or (by_user_id.get(identity.user_id) if identity.user_id else None)
        if contact is not None:
            found[key] = contact
    return found


def _contacts_of_other_form(organization, wanted: dict[str, Identity]) -> dict[str, Contact]:
    """key -> the contact stored under another form of the key's line (a Brazilian
    number with or without its ninth digit, a Mexican one with or without the 1:
    identity.wa_id_variants), given WhatsApp's id now, the one the delivery brings
    (merging.contact_wa_id_confirm). One query, for new customers only."""
    from .merging import contact_wa_id_confirm

    others = {variant: key for key, identity in wanted.items() if identity.wa_id
              for variant in wa_id_variants(identity.wa_id)[1:]}
    if not others:
        return {}
    found = {}
    for contact in Contact.objects.filter(organization=organization, wa_id__in=list(others)):
        key = others[contact.wa_id]
        if key in found:
            continue
        confirmed = contact_wa_id_confirm(contact_id=contact.pk, wa_id=wanted[key].wa_id, source="inbound")
        if confirmed is not None:
            found[key] = confirmed
    return found


def contact_identity_refresh(contact: Contact, identity: Identity) -> None:
    """Add to `contact` the identifiers `identity` brings that it lacks, and refresh its
    username. An identifier another contact of the organisation already holds stays
    there (logged): two contacts are never merged silently."""
    changes = {}
    if identity.user_id and not contact.user_id:
        changes["user_id"] = identity.user_id
    if identity.wa_id and not contact.wa_id:
        changes["wa_id"] = identity.wa_id
        if not contact.phone:
            changes["phone"] = f"+{identity.wa_id}"
    if identity.parent_user_id and contact.parent_user_id != identity.parent_user_id:
        changes["parent_user_id"] = identity.parent_user_id
    if identity.username and contact.username != identity.username:
        changes["username"] = identity.username
    if not changes:
        return
    try:
        with transaction.atomic():
            Contact.objects.filter(pk=contact.pk).update(**changes)
    except IntegrityError:
        logger.warning("contact %s: %s belongs to another contact; not added", contact.pk, sorted(changes))
        return
    for name, value in changes.items():
        setattr(contact, name, value)


def _profile_name_refresh(contact: Contact, name: str | None) -> None:
    if name and contact.profile_name != name:
        Contact.objects.filter(pk=contact.pk).update(profile_name=name)
        contact.profile_name = name


def _normalise_keyword(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.split()).strip(" .!").upper()


def opt_keyword_match(*, organization, text: str) -> str | None:
    """"out" when `text` is one of the organisation's opt-out keywords, "in" for an
    opt-in keyword, None otherwise. Accents, case and surrounding space are ignored;
    the whole message must be the keyword."""
    normalised = _normalise_keyword(text)
    if not normalised or len(normalised) > 40:
        return None
    if normalised in {_normalise_keyword(k) for k in (organization.opt_out_keywords or [])}:
        return "out"
    if normalised in {_normalise_keyword(k) for k in (organization.opt_in_keywords or [])}:
        return "in"
    return None


def contact_opt_out(*, contact: Contact, reason: str, at=None, conversation: Conversation | None = None,
                    actor=None) -> bool:
    """Stop everything the business sends to `contact` (but what the law and Meta
    allow). Returns False when the contact had already opted out."""
    at = at or timezone.now()
    return _contact_opt_change(contact=contact, opted_out=True, at=at, reason=reason, conversation=conversation,
                               actor=actor)


def contact_opt_in(*, contact: Contact, reason: str, conversation: Conversation | None = None, actor=None) -> bool:
    """Clear an opt-out. Returns False when the contact had not opted out."""
    return _contact_opt_change(contact=contact, opted_out=False, at=None, reason=reason, conversation=conversation,
                               actor=actor)


def _contact_opt_change(*, contact: Contact, opted_out: bool, at, reason: str, conversation, actor) -> bool:
    """Flip the opt-out flag with one conditional UPDATE (a repeat changes nothing)
    and record who did it."""
    kept_reason = reason[:200] if opted_out else ""
    changed = Contact.objects.filter(pk=contact.pk, opted_out=not opted_out).update(
        opted_out=opted_out, opted_out_at=at, opt_out_reason=kept_reason, updated_at=timezone.now()
    )
    if changed:
        contact.opted_out, contact.opted_out_at, contact.opt_out_reason = opted_out, at, kept_reason
        AuditLogEntry.objects.create(
            organization_id=contact.organization_id,
            actor=actor,
            conversation=conversation,
            action="contact.opted_out" if opted_out else "contact.opted_in",
            data={"contact_id": contact.pk, "reason": reason[:200]},
        )
    return bool(changed)


def contact_marketing_preference_set(*, organization, wa_id: str, opted_out: bool, at) -> Contact | None:
    """Meta's user_preferences: the customer stopped or resumed marketing messages
    in WhatsApp itself. A late, older notice never overrides a newer one."""
    contact = Contact.objects.filter(organization=organization, wa_id=wa_id).first()
    if contact is None:
        contact = contact_get_or_create(organization=organization, wa_id=wa_id)
    newer = Q(marketing_opted_out_at__isnull=True) | Q(marketing_opted_out_at__lte=at)
    changed = Contact.objects.filter(newer, pk=contact.pk).exclude(
        marketing_opted_out=opted_out, marketing_opted_out_at=at
    ).update(marketing_opted_out=opted_out, marketing_opted_out_at=at, updated_at=timezone.now())
    if changed:
        contact.marketing_opted_out, contact.marketing_opted_out_at = opted_out, at
        AuditLogEntry.objects.create(
            organization_id=contact.organization_id,
            action="contact.marketing_stopped" if opted_out else "contact.marketing_resumed",
            data={"contact_id": contact.pk, "source": "user_preferences"},
        )
    return contact


CONTACT_ATTRIBUTES_MAX_KEYS = 50


CONTACT_ATTRIBUTE_VALUE_MAX = 1000


def contact_update(*, contact: Contact, actor, name: str | None = None, attributes: dict | None = None) -> Contact:
    """Change the name the business gives the contact and its free attributes."""
    if not contact_access.can_edit_contact(actor, contact):
        raise PermissionDenied("You may not change this contact.")
    changed = {}
    if name is not None:
        name = name.strip()
        if len(name) > 200:
            raise ValidationError("A name is at most 200 characters.")
        changed["name"] = name
    if attributes is not None:
        if not isinstance(attributes, dict) or len(attributes) > CONTACT_ATTRIBUTES_MAX_KEYS:
            raise ValidationError(f"Attributes are an object of at most {CONTACT_ATTRIBUTES_MAX_KEYS} keys.")
        for key, value in attributes.items():
            if not isinstance(value, (str, int, float, bool)) and value is not None:
                raise ValidationError("Attribute values are text, numbers, true/false or null.")
            if len(str(key)) > 100 or len(str(value)) > CONTACT_ATTRIBUTE_VALUE_MAX:
                raise ValidationError("An attribute is too long.")
        changed["attributes"] = attributes
    if not changed:
        return contact
    for field, value in changed.items():
        setattr(contact, field, value)
    with transaction.atomic():
        contact.save(update_fields=[*changed, "updated_at"])
        _audit(
            conversation=None,
            organization_id=contact.organization_id,
            actor=actor,
            action="contact.updated",
            data={"contact_id": contact.pk, "fields": sorted(changed)},
        )
        _publish_contact(contact)
    return contact


def contact_set_opt_out(*, contact: Contact, actor, opted_out: bool, reason: str = "") -> Contact:
    """An agent records (or clears) the contact's opt-out of everything the business sends."""
    if not contact_access.can_edit_contact(actor, contact):
        raise PermissionDenied("You may not change this contact.")
    with transaction.atomic():
        if opted_out:
            changed = contact_opt_out(contact=contact, reason=reason or "set by an agent", actor=actor)
        else:
            changed = contact_opt_in(contact=contact, reason=reason or "set by an agent", actor=actor)
        if changed:
            _publish_contact(contact)
    return contact


def contact_find_by_phone(*, organization, phone) -> Contact | None:
    """The organisation's contact of a typed phone number, whichever form of the line
    it was stored under (identity.wa_id_variants), the normalised form first."""
    variants = wa_id_variants(wa_id_normalise(phone))
    found = {c.wa_id: c for c in Contact.objects.filter(organization=organization, wa_id__in=variants)}
    return next((found[v] for v in variants if v in found), None)


def contact_for_phone(*, organization, phone) -> Contact:
    """The contact of a phone number a person typed (the API, the inbox): found in any
    form of the line, else created under the normalised form (identity.wa_id_normalise),
    which WhatsApp's answer to the first send confirms or corrects."""
    found = contact_find_by_phone(organization=organization, phone=phone)
    if found is not None:
        found.organization = organization
        return found
    return contact_get_or_create(organization=organization, wa_id=wa_id_normalise(phone))
