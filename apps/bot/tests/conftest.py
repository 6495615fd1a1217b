"""Fixtures of the bot's tests: the local OpenAI-compatible server, settings pointing
the real openai client at it, and a customer who writes."""

import pytest
from django.utils import timezone

from apps.bot import services
from apps.bot.tests.openai_server import FakeOpenAI


@pytest.fixture(scope="session")
def openai_server():
    server = FakeOpenAI()
    yield server
    server.close()


@pytest.fixture
def ai(openai_server, settings):
    """The OpenAI-compatible server, reset, with the settings pointing at it."""
    openai_server.reset()
    settings.OPENAI_API_KEY = "sk-test-key"
    settings.OPENAI_BASE_URL = openai_server.url
    settings.OPENAI_TIMEOUT = 5
    settings.OPENAI_MAX_ATTEMPTS = 2
    settings.OPENAI_RETRY_BASE_DELAY = 0
    settings.OPENAI_EMBEDDING_MODEL = ""
    yield openai_server
    openai_server.reset()


@pytest.fixture(autouse=True)
def _fresh_memo():
    services.enabled_memo_clear()
    yield
    services.enabled_memo_clear()


def customer_says(conversation, text="Hello", *, type_="text", content=None, at=None):
    """A customer message stored as the inbound path stores it, then the hook."""
    from apps.conversations.models import Conversation
    from apps.messaging.tests.factories import MessageFactory

    at = at or timezone.now()
    message = MessageFactory(conversation=conversation, text=text, type=type_, timestamp=at,
                             content=content if content is not None else {"body": text})
    Conversation.objects.filter(pk=conversation.pk).update(last_customer_message_at=at, last_message_at=at)
    conversation.refresh_from_db()
    message.conversation = conversation
    services.bot_on_inbound_message(message=message)
    return message
