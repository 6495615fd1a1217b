"""The hand-written SQL of conversations (apps/conversations/sql.py): the one writer of a
conversation's last activity (conversations_record_activity), for customer messages and
the business's own alike."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.conversations.models import Conversation
from apps.conversations.services import (
    Activity,
    conversation_record_outbound,
    conversations_record_activity,
)
from apps.conversations.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def fresh(conversation) -> Conversation:
    return Conversation.objects.get(pk=conversation.pk)


def test_customer_messages_move_the_window_and_the_unread_count_only_forward():
    conversation = ConversationFactory(last_message_at=None, last_customer_message_at=None, unread_count=0)
    conversations_record_activity(activities=[Activity(conversation.pk, NOW, "newest", customer_messages=2)])
    conversations_record_activity(activities=[Activity(conversation.pk, NOW - timedelta(minutes=5), "late",
                                                        customer_messages=1)])
    row = fresh(conversation)
    assert (row.last_message_at, row.last_message_preview, row.last_customer_message_at, row.unread_count) == (
        NOW, "newest", NOW, 3)


def test_a_business_message_never_moves_the_preview_back_and_leaves_the_window():
    conversation = ConversationFactory(last_message_at=NOW, last_message_preview="customer's", unread_count=1,
                                       last_customer_message_at=NOW)
    conversation_record_outbound(conversation=conversation, at=NOW - timedelta(seconds=1), preview="older reply",
                                 answers=True)
    row = fresh(conversation)
    assert (row.last_message_preview, row.last_customer_message_at, row.unread_count) == ("customer's", NOW, 1)
    assert row.first_response_at == NOW - timedelta(seconds=1)  # the answer counts though it is older
    conversation_record_outbound(conversation=conversation, at=NOW + timedelta(seconds=1), preview="reply",
                                 answers=False)
    assert (fresh(conversation).last_message_preview, conversation.last_message_preview) == ("reply", "reply")


def test_the_first_answer_is_kept():
    conversation = ConversationFactory(first_response_at=None)
    conversation_record_outbound(conversation=conversation, at=NOW, preview="first", answers=True)
    conversation_record_outbound(conversation=conversation, at=NOW + timedelta(minutes=1), preview="second",
                                 answers=True)
    assert fresh(conversation).first_response_at == NOW


def test_many_conversations_at_once_end_as_one_by_one():
    blank = {"last_message_at": None, "last_customer_message_at": None, "unread_count": 0, "first_response_at": None}
    pairs = [(ConversationFactory(**blank), ConversationFactory(**blank)) for _ in range(3)]
    plan = [(NOW, "a", 1, False), (NOW - timedelta(minutes=1), "b", 0, True), (NOW + timedelta(minutes=1), "c", 2,
                                                                                 False)]
    together = [Activity(first.pk, at, text, n, answers) for (first, _), (at, text, n, answers) in zip(pairs, plan)]
    returned = conversations_record_activity(activities=together)
    for (_, second), (at, text, n, answers) in zip(pairs, plan):
        conversations_record_activity(activities=[Activity(second.pk, at, text, n, answers)])
    fields = ("last_message_at", "last_message_preview", "last_customer_message_at", "unread_count",
              "first_response_at")
    for first, second in pairs:
        assert [getattr(fresh(first), f) for f in fields] == [getattr(fresh(second), f) for f in fields]
        assert [getattr(returned[first.pk], f) for f in fields] == [getattr(fresh(first), f) for f in fields]
