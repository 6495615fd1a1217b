"""The channel layer as configured: a burst is not dropped, a stuck client is bounded
and does not hold up the others."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from django.conf import settings

BURST = 5000


def configured_layer(**overrides):
    """A layer of the configured class and settings (optionally with some overridden)."""
    channel_layers.backends.pop("default", None)
    layer = channel_layers["default"]
    if overrides:
        config = {**settings.CHANNEL_LAYERS["default"].get("CONFIG", {}), **overrides}
        layer = type(layer)(**config)
    return layer


async def queued(layer, channel) -> int:
    """Messages waiting for `channel`: in Redis, and in this process's buffer, into
    which the layer moves them once any local channel reads."""
    connection = layer.connection(layer.consistent_hash(channel))
    in_redis = await connection.zcard(layer.prefix + channel.split("!")[0] + "!")
    buffer = layer.receive_buffer.get(channel)
    return in_redis + (buffer.qsize() if buffer is not None else 0)


def test_a_burst_of_5000_group_events_reaches_a_slow_client_whole():
    # The configured capacity; a long expiry, so a slow machine does not expire the
    # first events before the last are sent (the expiry is checked below).
    layer = configured_layer(expiry=3600)

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


def test_the_configured_capacity_holds_the_burst_and_events_expire():
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    layer = configured_layer()
    assert layer.capacity == config["capacity"] >= 2 * BURST
    # A stuck client's queue is emptied by the expiry; the Redis group membership too.
    assert layer.expiry == config.get("expiry", 60) <= 60
    assert layer.group_expiry == config["group_expiry"]


def test_a_stuck_client_stays_bounded_while_the_others_receive_everything():
    # The bound is the per-channel capacity; a small one shows it without 10,000 sends.
    capacity = 50
    layer = configured_layer(capacity=capacity)

    async def scenario():
        stuck, reader = await layer.new_channel(), await layer.new_channel()
        for channel in (stuck, reader):
            await layer.group_add("test.stuck", channel)
        got = []
        try:
            for i in range(capacity * 4):
                await layer.group_send("test.stuck", {"type": "inbox.event", "n": i})
                got.append((await layer.receive(reader))["n"])
            held = await queued(layer, stuck)
        finally:
            for channel in (stuck, reader):
                await layer.group_discard("test.stuck", channel)
            await layer.flush()
        return got, held

    got, held = async_to_sync(scenario)()
    assert got == list(range(capacity * 4))
    # The stuck client holds `capacity` events; the rest are dropped for it alone (it
    # catches up from the replay log when it wakes).
    assert held == capacity


def test_a_batched_read_hands_every_socket_its_own_events_in_order():
    # Many sockets of one process share one Redis queue; one read takes a batch and
    # fills every socket's buffer. Each socket gets exactly its events, in order; a
    # group event for several of them reaches each once; nothing stays in flight.
    layer = configured_layer(expiry=3600, receive_batch=7)

    async def scenario():
        channels = [await layer.new_channel() for _ in range(5)]
        for channel in channels[:3]:
            await layer.group_add("test.batch", channel)
        try:
            for i in range(40):
                await layer.send(channels[i % 5], {"type": "inbox.event", "n": i})
                if i % 10 == 0:
                    await layer.group_send("test.batch", {"type": "inbox.event", "n": 1000 + i})
            got = {}
            for channel in channels:
                want = 8 + (4 if channel in channels[:3] else 0)
                got[channel] = [(await layer.receive(channel))["n"] for _ in range(want)]
            await asyncio.gather(*layer.receive_cleaners)
            backup = layer._backup_channel_name(layer.prefix + layer.non_local_name(channels[0]))
            in_flight = await layer.connection(0).zcard(backup)
        finally:
            for channel in channels[:3]:
                await layer.group_discard("test.batch", channel)
            await layer.flush()
        return channels, got, in_flight

    channels, got, in_flight = async_to_sync(scenario)()
    for k, channel in enumerate(channels):
        # Direct events, and (the first three sockets) group events, in send order.
        expected = []
        for i in range(40):
            if i % 5 == k:
                expected.append(i)
            if i % 10 == 0 and k < 3:
                expected.append(1000 + i)
        assert got[channel] == expected
    assert in_flight == 0


def test_a_read_cancelled_mid_batch_loses_nothing():
    # The batch moves to the in-flight backup atomically; a read cancelled before it
    # handed the batch out leaves it there, and the next read restores it first.
    layer = configured_layer(expiry=3600, receive_batch=50)

    async def scenario():
        channel = await layer.new_channel()
        try:
            for i in range(20):
                await layer.send(channel, {"type": "inbox.event", "n": i})
            real = layer.non_local_name(channel)
            key = layer.prefix + real
            connection = layer.connection(layer.consistent_hash(real))
            original_eval = connection.eval

            async def eval_then_cancel(*args, **kwargs):
                await original_eval(*args, **kwargs)  # the script ran: the batch is in flight
                raise asyncio.CancelledError()

            connection.eval = eval_then_cancel
            try:
                with pytest.raises(asyncio.CancelledError):
                    await layer.receive(channel)
            finally:
                connection.eval = original_eval
            in_flight = await connection.zcard(layer._backup_channel_name(key))
            got = [(await layer.receive(channel))["n"] for _ in range(20)]
        finally:
            await layer.flush()
        return in_flight, got

    in_flight, got = async_to_sync(scenario)()
    assert in_flight == 20
    assert got == list(range(20))
