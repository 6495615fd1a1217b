"""Reads of templates and notifications, scoped to what the user may see."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.accounts import access

from .models import MessageTemplate


def _number_for_user(user, number):
    """`number` (a WhatsAppNumber, its id or its phone_number_id) if it is the user's
    organisation's, else None."""
    from apps.whatsapp.models import WhatsAppNumber

    if isinstance(number, WhatsAppNumber):
        return number if number.organization_id == user.organization_id else None
    numbers = WhatsAppNumber.objects.filter(organization_id=user.organization_id)
    value = str(number or "").strip()
    if not value:
        return None
    match = Q(phone_number_id=value)
    # An id is ASCII digits ("²".isdigit() is true too); a phone number id is longer.
    if value.isascii() and value.isdigit() and len(value) < 12:
        match |= Q(pk=int(value))
    return numbers.filter(match).first()


def template_list_for_user(*, user, number, language: str | None = None, query: str = "",
                           sendable_only: bool = True) -> QuerySet[MessageTemplate]:
    """The templates of `number`'s WhatsApp Business Account that `user` may use:
    approved ones only unless sendable_only is False (admins see every state),
    in `language` when given (en matches en and en_US), matching `query` by name
    or body text."""
    if not access.is_member(user):
        return MessageTemplate.objects.none()
    number = _number_for_user(user, number)
    if number is None:
        return MessageTemplate.objects.none()
    templates = MessageTemplate.objects.filter(organization_id=user.organization_id)
    if number.waba_id:
        templates = templates.filter(waba_id=number.waba_id)
    if sendable_only:
        templates = templates.filter(status=MessageTemplate.Status.APPROVED, deleted_at__isnull=True)
    elif not access.can_manage_settings(user):
        templates = templates.filter(deleted_at__isnull=True)
    if language:
        base = language.split("_")[0]
        templates = templates.filter(Q(language=language) | Q(language=base) | Q(language__startswith=f"{base}_"))
    query = (query or "").strip()
    if query:
        templates = templates.filter(Q(name__icontains=query) | Q(components__icontains=query))
    return templates.order_by("name", "language")


def template_get_for_user(*, user, template_id: int) -> MessageTemplate | None:
    if not access.is_member(user):
        return None
    return MessageTemplate.objects.filter(organization_id=user.organization_id, pk=template_id).first()


def templates_for_admin(*, user) -> QuerySet[MessageTemplate]:
    if not access.can_manage_settings(user):
        return MessageTemplate.objects.none()
    return MessageTemplate.objects.filter(organization_id=user.organization_id)
