"""Helpers of the inbound pipeline's tests."""

from apps.conversations.tests.factories import ContactFactory, ConversationFactory
from apps.messaging.tests.factories import OutboundMessageFactory
from apps.whatsapp.tests.conftest import CUSTOMER


def outbound_to_customer(number, wamid="wamid.OUTBOUND_TEXT_0001", **kwargs):
    """A message of ours on `number` to the fixtures' customer (CUSTOMER), with `wamid`:
    what their statuses and reactions name."""
    contact = ContactFactory(organization=number.organization, wa_id=CUSTOMER)
    conversation = ConversationFactory(organization=number.organization, contact=contact, number=number)
    return OutboundMessageFactory(conversation=conversation, wamid=wamid, **kwargs)
