"""Blocking a customer on a number: at WhatsApp (Meta's Block Users API), then here.

A block is per number, as at Meta. Supervisors and admins block and unblock
(`access.can_block_contact`), from the inbox or the REST API; each change writes an
audit entry and tells the inbox (`contact.updated`). Meta's call is synchronous and
short (it answers at once whether the block took), so it runs in the request, outside
any transaction; a refusal becomes a ValidationError whose message says, in words an
agent understands, what happened and what to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from apps.providers.meta import blocking
from apps.providers.meta.client import GraphAPIError, client_for
from apps.whatsapp.models import Provider

from .. import access as contact_access
from ..models import AuditLogEntry, Contact, ContactBlock, Conversation
from .contact_events import _publish_contact

logger = logging.getLogger(__name__)

# The providers whose numbers speak Meta's Block Users API.
_BLOCKING_PROVIDERS = (Provider.META, Provider.SIMULATOR)


def _meta_said(error: GraphAPIError) -> str:
    """Meta's own reason: each refused user's (the call's error only says "see the list")."""
    reasons = []
    for user in blocking.refused_users(error):
        reason = user.details or user.message
        if reason and reason not in reasons:
            reasons.append(reason)
    return " ".join(reasons) or error.details or error.message


def block_error_text(error: GraphAPIError, *, unblocking: bool = False) -> str:
    """What a refusal of the Block Users API means, for the person who asked."""
    if error.code == 139100 and unblocking:
        return _("WhatsApp did not unblock this customer. (WhatsApp said: %(details)s)") % {
            "details": _meta_said(error)}
    if error.code == 139100:
        return _(
            "WhatsApp did not block this customer. It blocks only customers who wrote to this number in the "
            "last 24 hours; try again after their next message. (WhatsApp said: %(details)s)"
        ) % {"details": _meta_said(error)}
    if error.code == 139101:
        return _(
            "This number's blocklist is full (64,000 customers). Unblock someone first."
        )
    if error.code == 139102:
        return _("The blocklist changed while it was being read. Try again.")
    if error.code == 139103:
        return _(
            "WhatsApp had an internal error while blocking. Try again in a moment."
        )
    if error.token_error:
        return _("WhatsApp refused this number's access token: an admin must renew it.")
    if error.retryable:
        return _("WhatsApp could not be reached. Try again in a moment.")
    return _("WhatsApp refused: %(reason)s") % {"reason": str(error)}


def _target(contact: Contact) -> blocking.BlockTarget:
    return blocking.BlockTarget(
        wa_id=contact.wa_id, user_id="" if contact.wa_id else contact.user_id
    )


def _check(actor, contact: Contact, number) -> None:
    if (
        not contact_access.can_block_contact(actor, contact)
        or number.organization_id != contact.organization_id
    ):
        raise PermissionDenied(
            _("Only supervisors and admins may block or unblock customers.")
        )
    if number.provider not in _BLOCKING_PROVIDERS:
        raise ValidationError(_("This number's provider cannot block customers."))


def _call(function, number, contact: Contact):
    try:
        return function(client_for(number), [_target(contact)])
    except GraphAPIError as error:
        logger.info(
            "number %s: %s of contact %s refused: %s",
            number.pk,
            function.__name__,
            contact.pk,
            error,
        )
        raise ValidationError(
            block_error_text(error, unblocking=function is blocking.unblock), code=f"meta_{error.code}"
        ) from error


def contact_block(
    *, conversation: Conversation, actor, reason: str = ""
) -> ContactBlock:
    """Block the conversation's customer on its number. Blocking a blocked customer
    changes nothing."""
    contact, number = conversation.contact, conversation.number
    _check(actor, contact, number)
    existing = ContactBlock.objects.filter(contact=contact, number=number).first()
    if existing is not None:
        return existing
    _call(blocking.block, number, contact)
    with transaction.atomic():
        block, created = ContactBlock.objects.get_or_create(
            contact=contact,
            number=number,
            defaults={
                "organization_id": contact.organization_id,
                "blocked_by": actor,
                "reason": reason[:200],
            },
        )
        if created:
            AuditLogEntry.objects.create(
                organization_id=contact.organization_id,
                actor=actor,
                conversation=conversation,
                action="contact.blocked",
                data={
                    "contact_id": contact.pk,
                    "number_id": number.pk,
                    "reason": reason[:200],
                },
            )
            _publish_contact(contact)
    return block


def contact_unblock(*, conversation: Conversation, actor) -> bool:
    """Unblock the conversation's customer on its number (at WhatsApp even when we did
    not know them blocked: the WhatsApp Business app may have blocked them). Returns
    whether a block of ours was lifted."""
    contact, number = conversation.contact, conversation.number
    _check(actor, contact, number)
    _call(blocking.unblock, number, contact)
    with transaction.atomic():
        deleted, _rows = ContactBlock.objects.filter(
            contact=contact, number=number
        ).delete()
        AuditLogEntry.objects.create(
            organization_id=contact.organization_id,
            actor=actor,
            conversation=conversation,
            action="contact.unblocked",
            data={"contact_id": contact.pk, "number_id": number.pk},
        )
        _publish_contact(contact)
    return bool(deleted)


@dataclass(frozen=True)
class BlockedEntry:
    """A customer on a number's blocklist at WhatsApp, with what we know of them."""

    wa_id: str
    user_id: str
    contact: Contact | None
    block: ContactBlock | None


def number_blocked_list(
    *, user, number, after: str = "", limit: int = 100
) -> tuple[list[BlockedEntry], str]:
    """One page of the number's blocklist as WhatsApp holds it, and the next page's
    cursor (or ""): for supervisors and admins of the number's organisation."""
    if (
        not getattr(user, "is_supervisor_or_admin", False)
        or number.organization_id != user.organization_id
    ):
        raise PermissionDenied(_("Only supervisors and admins may see the blocklist."))
    if number.provider not in _BLOCKING_PROVIDERS:
        raise ValidationError(_("This number's provider cannot block customers."))
    try:
        page = blocking.blocked(client_for(number), limit=limit, after=after)
    except GraphAPIError as error:
        raise ValidationError(
            block_error_text(error), code=f"meta_{error.code}"
        ) from error
    wa_ids = [u.wa_id for u in page.users if u.wa_id]
    user_ids = [u.user_id for u in page.users if u.user_id]
    contacts = Contact.objects.filter(organization_id=number.organization_id)
    by_wa = {c.wa_id: c for c in contacts.filter(wa_id__in=wa_ids)} if wa_ids else {}
    by_user = (
        {c.user_id: c for c in contacts.filter(user_id__in=user_ids)}
        if user_ids
        else {}
    )
    found = [by_wa.get(u.wa_id) or by_user.get(u.user_id) for u in page.users]
    blocks = {
        b.contact_id: b
        for b in ContactBlock.objects.filter(
            number=number, contact_id__in=[c.pk for c in found if c is not None]
        ).select_related("blocked_by")
    }
    entries = [
        BlockedEntry(
            wa_id=u.wa_id,
            user_id=u.user_id,
            contact=c,
            block=blocks.get(c.pk) if c else None,
        )
        for u, c in zip(page.users, found)
    ]
    return entries, page.after
