"""Reads of messages, scoped to what the requesting user may see; the search (search.py)
and the thread (thread.py) are beside them."""

from apps.accounts import access

from ..models import Message


def message_list(*, user):
    return Message.objects.filter(access.conversation_filter(user, prefix="conversation__")).select_related("author")


def message_get(*, user, message_id: int) -> Message | None:
    return message_list(user=user).filter(pk=message_id).first()


def number_for_integration(*, user, number: str):
    """The caller's organisation's active number, by phone_number_id or by id."""
    from apps.whatsapp.models import WhatsAppNumber

    numbers = WhatsAppNumber.objects.filter(organization_id=user.organization_id, is_active=True)
    found = numbers.filter(phone_number_id=str(number)).first()
    # An id is ASCII digits ("²".isdigit() is true too); a phone number id is longer.
    if found is None and str(number).isascii() and str(number).isdigit() and len(str(number)) < 12:
        found = numbers.filter(pk=int(number)).first()
    return found
