"""What the statuses of our messages tell about their recipients: the customer's
business-scoped user id (Meta's `recipient_user_id`), stored on a contact that does
not have one yet."""

from __future__ import annotations

from apps.conversations.identity import Identity
from apps.conversations.services.contacts import contact_identity_refresh

from ..models import Direction, Message


def statuses_user_ids_learn(*, number, updates: list) -> int:
    """For the statuses of `number` (parsed StatusUpdate events) that name the
    recipient's user id: the contact of the message, when it has no user id yet, gets
    it (and the parent user id), as a customer's own message would give it
    (contact_identity_refresh: an id another contact holds stays there). One query,
    and only when a status carries one. Returns how many contacts learnt theirs."""
    wanted = {update.wamid: update for update in updates if getattr(update, "recipient_user_id", "")}
    if not wanted:
        return 0
    messages = (Message.objects.filter(number=number, direction=Direction.OUTBOUND, wamid__in=list(wanted),
                                       conversation__contact__user_id="")
                .select_related("conversation__contact").only("wamid", "conversation__contact"))
    learnt = set()
    for message in messages:
        contact = message.conversation.contact
        if contact.pk in learnt:
            continue
        update = wanted[message.wamid]
        contact_identity_refresh(contact, Identity(user_id=update.recipient_user_id,
                                                   parent_user_id=update.recipient_parent_user_id))
        if contact.user_id:
            learnt.add(contact.pk)
    return len(learnt)
