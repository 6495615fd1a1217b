"""Canned responses: the organisation's saved replies, written by its members from
the inbox (agents included) and used with "/" in the composer."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from apps.accounts import access

from ..models import CannedResponse
from .actions import _audit

BODY_MAX = 4096


def _check(*, shortcut: str, body: str) -> tuple[str, str]:
    shortcut, body = (shortcut or "").strip().lstrip("/"), (body or "").strip()
    try:
        validate_slug(shortcut)
    except ValidationError:
        raise ValidationError(_("Shortcut: letters, digits, hyphens and underscores only.")) from None
    if len(shortcut) > 40:
        raise ValidationError(_("Shortcut: at most 40 characters."))
    if not body:
        raise ValidationError(_("Text: write the reply."))
    if len(body) > BODY_MAX:
        raise ValidationError(_("Text: at most %(n)d characters.") % {"n": BODY_MAX})
    return shortcut, body


def canned_response_save(*, user, shortcut: str, body: str, canned_id: int | None = None) -> CannedResponse:
    """Create a canned response, or change the one of id `canned_id`, in the user's
    organisation; a shortcut already used there is refused."""
    if not access.is_member(user):
        raise PermissionDenied
    shortcut, body = _check(shortcut=shortcut, body=body)
    try:
        with transaction.atomic():
            if canned_id is None:
                canned = CannedResponse.objects.create(organization_id=user.organization_id, shortcut=shortcut,
                                                       body=body)
                action = "canned.created"
            else:
                canned = CannedResponse.objects.select_for_update().filter(
                    pk=canned_id, organization_id=user.organization_id).first()
                if canned is None:
                    raise ValidationError(_("That canned response no longer exists."))
                canned.shortcut, canned.body = shortcut, body
                canned.save(update_fields=["shortcut", "body"])
                action = "canned.updated"
            _audit(conversation=None, actor=user, action=action, data={"id": canned.pk, "shortcut": shortcut},
                   organization_id=user.organization_id)
    except IntegrityError:
        raise ValidationError(_("Shortcut: /%(shortcut)s is already used.") % {"shortcut": shortcut}) from None
    return canned


def canned_response_delete(*, user, canned_id: int) -> None:
    if not access.is_member(user):
        raise PermissionDenied
    with transaction.atomic():
        deleted, _rows = CannedResponse.objects.filter(pk=canned_id, organization_id=user.organization_id).delete()
        if deleted:
            _audit(conversation=None, actor=user, action="canned.deleted", data={"id": canned_id},
                   organization_id=user.organization_id)
