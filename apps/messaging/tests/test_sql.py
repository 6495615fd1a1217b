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


def test_marking_a_conversation_read_sets_its_unread_messages_and_count_in_one_statement(
        django_assert_num_queries):
    from apps.conversations.models import Conversation
    from apps.messaging.sql import conversation_read_mark

    conversation = ConversationFactory(unread_count=3)
    other = ConversationFactory(organization=conversation.organization, number=conversation.number)
    older = MessageFactory(conversation=conversation, wamid="wamid.OLD", timestamp=AT)
    latest = MessageFactory(conversation=conversation, wamid="wamid.NEW", timestamp=AT.replace(hour=13))
    no_wamid = MessageFactory(conversation=conversation, wamid=None, timestamp=AT.replace(hour=14))
    ours = MessageFactory(conversation=conversation, wamid="wamid.OURS", direction=Direction.OUTBOUND,
                          author_type=Author.AGENT, timestamp=AT.replace(hour=15))
    elsewhere = MessageFactory(conversation=other, wamid="wamid.ELSEWHERE", timestamp=AT)
    read_before = MessageFactory(conversation=conversation, wamid="wamid.READ", timestamp=AT.replace(hour=16),
                                 read_at=AT)
    at = timezone.now()

    with django_assert_num_queries(1):
        assert conversation_read_mark(conversation_id=conversation.pk, at=at) == (2, "wamid.NEW", True)

    read = {m.pk: m.read_at for m in Message.objects.all()}
    assert read[older.pk] == read[latest.pk] == at
    assert read[no_wamid.pk] is read[ours.pk] is read[elsewhere.pk] is None
    assert read[read_before.pk] == AT
    assert Conversation.objects.get(pk=conversation.pk).unread_count == 0
    # Opened again: nothing to mark, nothing changed.
    assert conversation_read_mark(conversation_id=conversation.pk, at=timezone.now()) == (0, None, False)
    assert Message.objects.get(pk=older.pk).read_at == at
