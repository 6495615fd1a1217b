"""The thread's selectors quote only messages of the same conversation: a reply context
stored before inbound replies were scoped (pointing into another conversation, of the
organisation or not) shows no quote, and costs no more queries."""

import pytest
from django.urls import reverse

from apps.accounts.tests.worlds import build_world, fast_passwords  # noqa: F401
from apps.messaging.models import Message, Status
from apps.messaging.selectors import thread as selectors
from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

PLACEHOLDER = "A message that is not in this inbox"


@pytest.fixture
def world():
    return build_world()


def stray_reply(world, target, text="about that"):
    """An inbound reply of world.mine whose stored context points at `target` (written
    directly: today's inbound pipeline would not store it)."""
    reply = MessageFactory(conversation=world.mine, text=text)
    Message.objects.filter(pk=reply.pk).update(reply_to=target, reply_to_wamid=target.wamid)
    return Message.objects.get(pk=reply.pk)


@pytest.fixture
def strays(world):
    """Quoted messages of a colleague's conversation and of another organisation."""
    return [
        MessageFactory(conversation=world.colleagues, text="colleague's secret"),
        MessageFactory(conversation=world.foreign, text="foreign secret quoted"),
    ]


def shown(page):
    return {item.obj.pk: item.obj for item in page.items if item.kind == "message"}


def test_a_reply_pointing_into_another_conversation_shows_no_quote_on_the_page(world, strays,
                                                                               django_assert_num_queries):
    replies = [stray_reply(world, target) for target in strays]
    with django_assert_num_queries(4):  # messages, reactions, notes, the quoted messages
        messages = shown(selectors.thread_page(conversation=world.mine))
        assert [messages[r.pk].reply_to for r in replies] == [None, None]


def test_the_threads_queries_do_not_grow_with_stray_replies(world, strays, django_assert_num_queries):
    old = MessageFactory(conversation=world.mine, text="the original")
    reply = OutboundMessageFactory(conversation=world.mine, text="re", reply_to=old, reply_to_wamid=old.wamid,
                                   author=world.agent, status=Status.READ)
    for _ in range(3):
        for target in strays:
            stray_reply(world, target)
    with django_assert_num_queries(4):
        messages = shown(selectors.thread_page(conversation=world.mine, limit=50))
        quoted = {pk: m.reply_to for pk, m in messages.items() if m.reply_to_id is not None}
    assert quoted.pop(reply.pk) == old
    assert list(quoted.values()) == [None] * 6


def test_the_thread_page_and_the_message_partial_show_no_stray_quote(client, world, strays):
    client.force_login(world.agent)
    replies = [stray_reply(world, target, text=f"reply {i}") for i, target in enumerate(strays)]
    body = client.get(reverse("inbox:conversation", args=[world.mine.pk])).content.decode()
    assert "reply 0" in body and "reply 1" in body
    assert "colleague&#x27;s secret" not in body and "colleague's secret" not in body
    assert "foreign secret quoted" not in body
    for reply in replies:
        partial = client.get(reverse("inbox:message", args=[reply.pk])).content.decode()
        assert reply.text in partial and PLACEHOLDER in partial
        assert "secret" not in partial


def test_the_message_partials_selector_drops_a_stray_quote(world, strays, django_assert_num_queries):
    same = MessageFactory(conversation=world.mine, text="the original")
    kept = OutboundMessageFactory(conversation=world.mine, text="re", reply_to=same, reply_to_wamid=same.wamid,
                                  author=world.agent, status=Status.READ)
    assert selectors.thread_message_get(user=world.agent, message_id=kept.pk).reply_to == same
    for target in strays:
        reply = stray_reply(world, target)
        with django_assert_num_queries(3):  # the agent's teams with their numbers, the message, its reactions
            message = selectors.thread_message_get(user=world.agent, message_id=reply.pk)
            assert message.reply_to is None
