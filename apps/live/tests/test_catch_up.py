"""Catch-up after a reconnect: every missed event the user may see now, in order;
a reset when the gap is older than what is kept."""

import time

import pytest
from asgiref.sync import async_to_sync

from apps.conversations.services import conversation_assign, conversation_publish
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.services.inbound import message_publish
from apps.messaging.tests.factories import MessageFactory
from apps.realtime import replay

from .conftest import open_socket, session_cookie
from .helpers import away_and_back, missed, redis_down_for_one_publish

pytestmark = pytest.mark.django_db(transaction=True)


def test_reconnect_brings_every_missed_event_of_the_user_in_order_then_done(world):
    org, number, agent = world["org"], world["number"], world["agent_a"]
    mine = ConversationFactory(organization=org, number=number, assignee=agent)
    colleague = ConversationFactory(organization=org, number=number, assignee=world["agent_b"])
    unassigned = ConversationFactory(organization=org, number=number)
    message = MessageFactory(conversation=mine)
    other_message = MessageFactory(conversation=colleague)
    cursor, frames = away_and_back(agent, [
        lambda: message_publish(message, event="message.created"),
        lambda: message_publish(other_message, event="message.created"),
        lambda: conversation_publish(unassigned),
        lambda: conversation_publish(colleague),
        lambda: conversation_publish(mine),
    ])
    assert missed(frames, cursor) == [
        ("message.created", message.id),
        ("conversation.updated", unassigned.id),
        ("conversation.updated", mine.id),
    ]
    ids = [replay.parse_id(f["id"]) for f in frames if f["event"] != "presence"]
    assert ids == sorted(ids)
    assert frames[-1]["event"] == "catch_up.done"
    assert frames[-1]["data"]["cursor"] == [f for f in frames if f["event"] != "catch_up.done"][-1]["id"]


def test_events_of_a_conversation_the_user_lost_meanwhile_are_not_replayed_except_the_loss(world):
    org, number, agent = world["org"], world["number"], world["agent_a"]
    conversation = ConversationFactory(organization=org, number=number, assignee=agent)
    message = MessageFactory(conversation=conversation)
    cursor, frames = away_and_back(agent, [
        lambda: message_publish(message, event="message.created"),
        lambda: conversation_assign(conversation=conversation, actor=world["supervisor"], assignee=world["agent_b"]),
        lambda: conversation_publish(conversation),
    ])
    # The message came while it was theirs, but they may not see it now; one stub of
    # the reassignment notice, without the conversation's data, tells the client to
    # drop the conversation (test_catch_up_visibility.py).
    assert missed(frames, cursor) == [("conversation.updated", conversation.id)]
    notice = [f for f in frames if f["event"] == "conversation.updated"][-1]
    assert notice["data"] == {"id": conversation.id, "removed": True}


def test_a_cursor_older_than_the_retention_gets_a_reset(world, settings):
    settings.REALTIME_REPLAY_SECONDS = 3600
    cookie = session_cookie(world["supervisor"])
    old = f"{int(time.time() * 1000) - 3601 * 1000}-0"

    async def scenario():
        comm, frames = await open_socket(cookie, since=old)
        await comm.disconnect()
        return frames

    frames = async_to_sync(scenario)()
    assert frames[-1]["event"] == "catch_up.reset"
    assert replay.parse_id(frames[-1]["data"]["cursor"]) > replay.parse_id(old)


@pytest.mark.parametrize("cursor", ["nonsense", "12-x", "1" * 60])
def test_a_malformed_cursor_gets_a_reset(world, cursor):
    cookie = session_cookie(world["supervisor"])

    async def scenario():
        comm, frames = await open_socket(cookie, since=cursor)
        await comm.disconnect()
        return frames

    assert async_to_sync(scenario)()[-1]["event"] == "catch_up.reset"


def test_a_gap_trimmed_from_the_log_gets_a_reset_a_kept_one_does_not(world, settings):
    settings.REALTIME_REPLAY_MAX_PER_GROUP = 3
    conversation = ConversationFactory(organization=world["org"], number=world["number"])
    # Redis trims whole stream nodes (100 entries) with MAXLEN ~; enough to trim some.
    trimmed = [lambda: conversation_publish(conversation)] * 250
    cursor, frames = away_and_back(world["supervisor"], trimmed)
    assert frames[-1]["event"] == "catch_up.reset"

    settings.REALTIME_REPLAY_MAX_PER_GROUP = 1000
    cursor, frames = away_and_back(world["supervisor"], [lambda: conversation_publish(conversation)] * 3)
    assert missed(frames, cursor) == [("conversation.updated", conversation.id)] * 3
    assert frames[-1]["event"] == "catch_up.done"


def test_a_gap_larger_than_the_catch_up_limit_gets_a_reset(world, settings):
    settings.REALTIME_CATCH_UP_MAX = 5
    conversation = ConversationFactory(organization=world["org"], number=world["number"])
    cursor, frames = away_and_back(world["supervisor"], [lambda: conversation_publish(conversation)] * 6)
    assert frames[-1]["event"] == "catch_up.reset"


def test_a_lost_log_gets_a_reset(world):
    """A flushed Redis: the cursor predates the log."""
    conversation = ConversationFactory(organization=world["org"], number=world["number"])
    cursor, frames = away_and_back(world["supervisor"], [
        lambda: conversation_publish(conversation), replay.get_log().clear,
        lambda: conversation_publish(conversation),
    ])
    assert frames[-1]["event"] == "catch_up.reset"


def test_first_connection_without_cursor_gets_done_with_the_current_cursor(world):
    cookie = session_cookie(world["agent_a"])
    page_cursor = replay.cursor_now()

    async def scenario():
        comm, frames = await open_socket(cookie)
        await comm.disconnect()
        return frames

    frames = async_to_sync(scenario)()
    assert frames[-1]["event"] == "catch_up.done"
    assert replay.parse_id(frames[-1]["data"]["cursor"]) >= replay.parse_id(page_cursor)


def test_an_event_lost_while_redis_was_down_makes_a_reconnecting_page_reload(world, monkeypatch):
    """The event published during the outage is in no log: a page that was away then
    must not be told it is up to date."""
    conversation = ConversationFactory(organization=world["org"], number=world["number"])

    def outage():
        redis_down_for_one_publish(monkeypatch)
        conversation_publish(conversation)  # lost: Redis down

    cursor, frames = away_and_back(world["supervisor"], [
        outage, lambda: conversation_publish(conversation),  # Redis back
    ])
    assert frames[-1]["event"] == "catch_up.reset"


def test_a_failed_delivery_is_noted_even_when_no_event_follows(world, monkeypatch):
    """The process that lost an event moves the epoch at the first chance, even if it
    publishes nothing more: a catch-up answered by this process resets."""
    conversation = ConversationFactory(organization=world["org"], number=world["number"])

    def outage():
        redis_down_for_one_publish(monkeypatch)
        conversation_publish(conversation)

    cursor, frames = away_and_back(world["supervisor"], [outage])
    assert frames[-1]["event"] == "catch_up.reset"


def test_after_the_reset_a_new_cursor_catches_up_normally(world, monkeypatch):
    conversation = ConversationFactory(organization=world["org"], number=world["number"])

    def outage():
        redis_down_for_one_publish(monkeypatch)
        conversation_publish(conversation)

    away_and_back(world["supervisor"], [outage])
    cursor, frames = away_and_back(world["supervisor"], [lambda: conversation_publish(conversation)])
    assert frames[-1]["event"] == "catch_up.done"
    assert missed(frames, cursor) == [("conversation.updated", conversation.id)]


def test_the_epoch_moves_as_soon_as_redis_answers_again_without_another_event(monkeypatch):
    import redis

    log = replay.get_log()
    monkeypatch.setattr(replay, "EPOCH_RETRY_SECONDS", 0.05)
    before = log.redis.get(replay.EPOCH_KEY)
    real = log.move_epoch
    failures = {"left": 3}

    def move_epoch():
        if failures["left"]:
            failures["left"] -= 1
            raise redis.ConnectionError("Redis is restarting")
        real()

    monkeypatch.setattr(log, "move_epoch", move_epoch)
    time.sleep(0.002)
    replay.mark_lost()
    deadline = time.monotonic() + 10
    # (Another process's doing may move it too: apps/realtime/publishers.py.)
    while (failures["left"] or log.redis.get(replay.EPOCH_KEY) == before) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert failures["left"] == 0
    assert log.redis.get(replay.EPOCH_KEY) != before
    assert replay.epoch_move_if_lost()  # nothing left to move


def test_a_channel_layer_that_loses_redis_notes_the_loss(monkeypatch):
    import redis
    from channels.layers import get_channel_layer

    from apps.realtime import layers

    layer = get_channel_layer()
    noted = []
    monkeypatch.setattr(replay, "mark_lost", lambda: noted.append(True))

    async def refused(self, channel):
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(layers.RedisChannelLayer, "receive", refused)
    channel = async_to_sync(layer.new_channel)()
    with pytest.raises(redis.ConnectionError):
        async_to_sync(layer.receive)(channel)
    assert noted == [True]
