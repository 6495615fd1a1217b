"""Meta shows a typing indicator only with a read receipt: where the organisation
turned read receipts off, no typing indicator (and so no receipt) is sent."""

import pytest

from apps.accounts.tests.factories import AdminFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.services.send import typing_indicator_send
from apps.messaging.tests.factories import MessageFactory
from apps.simulator.models import SimulatedMessage, SimulatedRequest
from apps.simulator.testing import simulator  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(simulator):
    conversation = ConversationFactory()
    inbound = MessageFactory(conversation=conversation)
    SimulatedMessage.objects.create(phone_number_id=conversation.number.phone_number_id,
                                    customer=conversation.contact.wa_id, direction="in", wamid=inbound.wamid,
                                    type="text")
    return conversation


@pytest.mark.parametrize("receipts", [True, False])
def test_typing_follows_the_organisations_read_receipts(conversation, task_queue, receipts):
    organization = conversation.organization
    organization.mark_read_on_open = receipts
    organization.save()
    agent = AdminFactory(organization=organization)
    assert typing_indicator_send(conversation=conversation, user=agent) is receipts
    assert ("messaging.mark_read" in task_queue.names()) is receipts
    assert SimulatedMessage.objects.get(direction="in").status == ("read" if receipts else "accepted")
    calls = [r.body for r in SimulatedRequest.objects.filter(method="POST")]
    assert calls == ([{"messaging_product": "whatsapp", "status": "read",
                       "message_id": SimulatedMessage.objects.get().wamid,
                       "typing_indicator": {"type": "text"}}] if receipts else [])
