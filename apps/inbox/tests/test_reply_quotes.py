"""A reply quotes only a message of its own conversation (audit 16). Contexts stored
before inbound replies were scoped may point into another conversation, of the same
organisation or another: the presenter shows them as a message not in this inbox,
whatever loaded the reply (the thread's selectors also drop them; this holds for any
other caller)."""

import pytest

from apps.inbox import presenters
from apps.messaging.models import Message
from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

NOT_HERE = {"id": None, "author": "", "text": "A message that is not in this inbox"}


@pytest.mark.parametrize("where", ["foreign", "colleagues"])
def test_a_quote_of_another_conversation_is_not_shown(world, where):
    original = MessageFactory(conversation=getattr(world, where), text="the other conversation's secret")
    reply = OutboundMessageFactory(conversation=world.mine, text="On its way", reply_to=original,
                                   reply_to_wamid=original.wamid)
    loaded = Message.objects.select_related("conversation__organization").get(pk=reply.pk)
    view = presenters.message_view(loaded)
    assert view["reply"] == NOT_HERE
    assert "secret" not in repr(view)


def test_a_quote_of_the_same_conversation_is_shown(world):
    original = MessageFactory(conversation=world.mine, text="Where is my order?")
    reply = OutboundMessageFactory(conversation=world.mine, text="On its way", reply_to=original,
                                   reply_to_wamid=original.wamid)
    view = presenters.message_view(Message.objects.get(pk=reply.pk))
    assert (view["reply"]["id"], view["reply"]["text"]) == (original.pk, "Where is my order?")
