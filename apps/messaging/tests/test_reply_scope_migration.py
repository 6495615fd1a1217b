"""The data migration that drops reply contexts pointing into another conversation
(stored before inbound replies were scoped, audit 16): one UPDATE; the quoted wamid
stays, so the thread shows a message not in this inbox."""

import importlib

import pytest
from django.apps import apps

from apps.accounts.tests.worlds import build_world, fast_passwords  # noqa: F401
from apps.messaging.models import Message
from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("apps.messaging.migrations.0003_reply_to_other_conversation_clear")


def test_replies_into_another_conversation_lose_their_link_and_nothing_else(world_rows, django_assert_num_queries):
    rows = world_rows
    before = {m.pk: (m.reply_to_id, m.reply_to_wamid, m.text) for m in Message.objects.all()}
    with django_assert_num_queries(1):
        migration.reply_to_other_conversation_clear(apps, None)
    after = {m.pk: (m.reply_to_id, m.reply_to_wamid, m.text) for m in Message.objects.all()}
    cleared = {rows["into_foreign"].pk, rows["into_colleagues"].pk}
    assert {pk for pk in before if before[pk] != after[pk]} == cleared
    for pk in cleared:
        assert after[pk] == (None, before[pk][1], before[pk][2])
    assert after[rows["same"].pk][0] == rows["original"].pk
    assert after[rows["foreign_same"].pk][0] == rows["foreign_original"].pk
    # Run again: nothing left to change.
    migration.reply_to_other_conversation_clear(apps, None)
    assert {m.pk: (m.reply_to_id, m.reply_to_wamid, m.text) for m in Message.objects.all()} == after


@pytest.fixture
def world_rows():
    world = build_world()
    original = MessageFactory(conversation=world.mine, text="mine")
    foreign_original = MessageFactory(conversation=world.foreign, text="foreign")
    colleagues_original = MessageFactory(conversation=world.colleagues, text="colleagues")

    def reply(conversation, to):
        return OutboundMessageFactory(conversation=conversation, text="re", reply_to=to, reply_to_wamid=to.wamid)

    return {
        "original": original,
        "foreign_original": foreign_original,
        "same": reply(world.mine, original),
        "foreign_same": reply(world.foreign, foreign_original),
        "into_foreign": reply(world.mine, foreign_original),
        "into_colleagues": reply(world.mine, colleagues_original),
    }
