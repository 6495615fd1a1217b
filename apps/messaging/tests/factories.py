import factory

from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Author, Direction, Message, MessageType, Status


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    organization = factory.SelfAttribute("conversation.organization")
    number = factory.SelfAttribute("conversation.number")
    direction = Direction.INBOUND
    author_type = Author.CUSTOMER
    type = MessageType.TEXT
    text = "Hello"
    content = factory.LazyAttribute(lambda m: {"body": m.text})
    status = Status.RECEIVED
    wamid = factory.Sequence(lambda n: f"wamid.TEST{n:012d}")


class OutboundMessageFactory(MessageFactory):
    direction = Direction.OUTBOUND
    author_type = Author.AGENT
    status = Status.PENDING
    wamid = None
