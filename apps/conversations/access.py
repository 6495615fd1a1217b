"""Who may see and change a contact: accounts.access's rules on conversations, applied
to the contacts those conversations are with (an agent sees the contacts of the
conversations they may see; supervisors and admins every contact of the organisation)."""

from __future__ import annotations

from django.db.models import Q

from apps.accounts import access

from .models import Conversation


def contact_filter(user, prefix: str = "") -> Q:
    """A Q for the contacts `user` may see: every contact of the organisation for
    supervisors and admins; for agents, the contacts of conversations they may see."""
    if not access.is_member(user):
        return Q(pk__in=[])
    org = Q(**{f"{prefix}organization_id": user.organization_id})
    if user.is_supervisor_or_admin:
        return org
    visible = Conversation.objects.filter(access.conversation_filter(user)).values("contact_id")
    return org & Q(**{f"{prefix}pk__in": visible})


def can_view_contact(user, contact) -> bool:
    if not access.is_member(user) or contact.organization_id != user.organization_id:
        return False
    if user.is_supervisor_or_admin:
        return True
    return Conversation.objects.filter(access.conversation_filter(user, subqueries=True), contact_id=contact.pk).exists()


def can_edit_contact(user, contact) -> bool:
    """Name, attributes and opt-out: whoever may see the contact."""
    return can_view_contact(user, contact)


def can_block_contact(user, contact) -> bool:
    """Blocking a customer on a number (at WhatsApp): supervisors and admins of the
    organisation. Agents see the block and its flags, and ask a supervisor."""
    return bool(getattr(user, "is_supervisor_or_admin", False)) and can_view_contact(user, contact)
