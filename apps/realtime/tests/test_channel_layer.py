"""The Redis channel layer as configured: a burst is not dropped, a stuck client is bounded."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from django.conf import settings

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs the real Redis (REDIS_URL)")

BURST = 5000


def fresh_layer():
    channel_layers.backends.pop("default", None)
    return channel_layers["default"]


def test_a_burst_of_5000_group_events_reaches_a_slow_client_whole():
    layer = fresh_layer()

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add("test.burst", channel)
        try:
            for i in range(BURST):
                await layer.group_send("test.burst", {"type": "inbox.event", "n": i})
            got = [(await layer.receive(channel))["n"] for _ in range(BURST)]
        finally:
            await layer.group_discard("test.burst", channel)
            await layer.flush()
        return got

    assert async_to_sync(scenario)() == list(range(BURST))


def test_a_stuck_client_holds_at_most_the_configured_capacity():
    layer = fresh_layer()
    capacity = settings.CHANNEL_LAYERS["default"]["CONFIG"]["capacity"]

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add("test.stuck", channel)
        try:
            for i in range(capacity + 50):
                await layer.group_send("test.stuck", {"type": "inbox.event", "n": i})
            connection = layer.connection(layer.consistent_hash(channel))
            queued = await connection.zcard(layer.prefix + channel.split("!")[0] + "!")
        finally:
            await layer.group_discard("test.stuck", channel)
            await layer.flush()
        return queued

    assert async_to_sync(scenario)() == capacity
