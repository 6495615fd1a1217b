"""The hand-written SQL of messaging's services (apps/messaging/sql.py)."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Author, Direction, Message, MessageType, Reaction, Status
from apps.messaging.sql import messages_insert_new
from apps.messaging.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _new(conversation, wamid: str, text: str) -> Message:
    return Message(organization=conversation.organization, conversation=conversation, number=conversation.number,
                   wamid=wamid, direction=Direction.INBOUND, author_type=Author.CUSTOMER, type=MessageType.TEXT,
                   content={"body": text}, text=text, status=Status.RECEIVED, timestamp=AT)


def test_new_messages_are_inserted_with_every_column_and_their_ids_returned():
    conversation = ConversationFactory()
    inserted, awaited = messages_insert_new([_new(conversation, "wamid.A", "one"), _new(conversation, "wamid.B", "two")])

    assert set(inserted) == {"wamid.A", "wamid.B"} and awaited == set()
    stored = {m.wamid: m for m in Message.objects.filter(pk__in=inserted.values())}
    assert stored["wamid.A"].pk == inserted["wamid.A"]
    assert (stored["wamid.B"].text, stored["wamid.B"].content, stored["wamid.B"].timestamp) == ("two", {"body": "two"}, AT)
    assert stored["wamid.A"].created_at == stored["wamid.B"].created_at  # one creation time for the batch


def test_a_message_already_stored_is_skipped_not_duplicated():
    conversation = ConversationFactory()
    before = MessageFactory(conversation=conversation, wamid="wamid.SAME", text="first")

    inserted, _ = messages_insert_new([_new(conversation, "wamid.SAME", "again"), _new(conversation, "wamid.C", "c")])

    assert set(inserted) == {"wamid.C"}
    assert Message.objects.get(wamid="wamid.SAME").text == before.text == "first"


def test_the_messages_a_waiting_reaction_targets_are_named():
    conversation = ConversationFactory()
    Reaction.objects.create(organization=conversation.organization, number=conversation.number,
                            target_wamid="wamid.LATE", direction=Direction.INBOUND, reactor="5511", emoji="👍",
                            reacted_at=timezone.now())

    inserted, awaited = messages_insert_new([_new(conversation, "wamid.LATE", "x"), _new(conversation, "wamid.D", "d")])

    assert set(inserted) == {"wamid.LATE", "wamid.D"} and awaited == {"wamid.LATE"}
