"""publish() sends on commit; inside gathered() the events committed in the block
leave together at its end (one replay-log call, one delivery), in order, without
those of a rolled-back savepoint; one event reaches every member of its groups once."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from apps.realtime import publish as publish_module
from apps.realtime import replay
from apps.realtime.publish import gathered, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def sends(monkeypatch):
    """Each call of the sending step, as the list of event names it sent."""
    calls = []
    real = publish_module._send_many

    def spy(events):
        calls.append([event for event, _data, _groups in events])
        real(events)

    monkeypatch.setattr(publish_module, "_send_many", spy)
    return calls


@pytest.fixture(autouse=True)
def _fresh_layer():
    """Group names repeat across runs: start and end with an empty layer."""
    layer = get_channel_layer()

    def flush():
        client = replay.get_log().redis  # the same Redis database as the layer
        keys = list(client.scan_iter(match=layer.prefix + "*", count=1000))
        if keys:
            client.delete(*keys)

    flush()
    yield
    flush()


def joined(*groups_per_channel):
    layer = get_channel_layer()
    channels = []
    for groups in groups_per_channel:
        channel = async_to_sync(layer.new_channel)()
        for group in groups:
            async_to_sync(layer.group_add)(group, channel)
        channels.append(channel)
    return layer, channels


def received(layer, channel, group):
    """Everything `channel` gets up to an "end" event published to `group` after the
    test's events (a channel delivers in order, so nothing earlier is left behind)."""
    publish_module.publish_now("end", {}, groups=[group])

    async def until_end():
        frames = []
        while True:
            frame = await layer.receive(channel)
            if frame["event"] == "end":
                return frames
            frames.append(frame)

    return async_to_sync(until_end)()


def test_the_events_of_one_transaction_leave_together_in_order(django_capture_on_commit_callbacks, sends):
    layer, (channel,) = joined(["user.1"])
    with gathered():
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                for n in range(3):
                    publish(f"e{n}", {"n": n}, groups=["user.1"])
                assert sends == []  # nothing before the commit
        assert sends == []  # committed: gathered until the block ends
    assert sends == [["e0", "e1", "e2"]]
    frames = received(layer, channel, "user.1")
    assert [f["data"]["n"] for f in frames] == [0, 1, 2]
    ids = [replay.parse_id(f["id"]) for f in frames]
    assert ids == sorted(ids) and len(set(ids)) == 3
    # The batch is in the replay log too, as three events.
    kept = replay.get_log().read(["user.1"], frames[0]["id"], 10)
    assert [entry.event for entry in kept if entry.event != "end"] == ["e0", "e1", "e2"]


def test_an_event_of_a_rolled_back_savepoint_is_not_sent_the_others_are(django_capture_on_commit_callbacks, sends):
    layer, (channel,) = joined(["user.2"])
    with gathered(), django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            publish("before", {}, groups=["user.2"])
            try:
                with transaction.atomic():
                    publish("inner", {}, groups=["user.2"])
                    raise RuntimeError("roll the savepoint back")
            except RuntimeError:
                pass
            with transaction.atomic():
                publish("kept-inner", {}, groups=["user.2"])
            publish("after", {}, groups=["user.2"])
    assert sends == [["before", "kept-inner", "after"]]
    assert [f["event"] for f in received(layer, channel, "user.2")] == ["before", "kept-inner", "after"]


def test_outside_gathered_each_event_leaves_on_its_commit_in_order(django_capture_on_commit_callbacks, sends):
    layer, (channel,) = joined(["user.4"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            publish("first", {}, groups=["user.4"])
            publish("second", {}, groups=["user.4"])
            assert sends == []
    assert len(callbacks) == 2
    assert sends == [["first"], ["second"]]
    assert [f["event"] for f in received(layer, channel, "user.4")] == ["first", "second"]


def test_events_committed_before_an_exception_in_gathered_still_leave(django_capture_on_commit_callbacks, sends):
    layer, (channel,) = joined(["user.5"])
    with pytest.raises(RuntimeError), gathered():
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                publish("committed", {}, groups=["user.5"])
        raise RuntimeError("after the commit")
    assert sends == [["committed"]]
    assert [f["event"] for f in received(layer, channel, "user.5")] == ["committed"]


def test_a_gathered_block_inside_another_sends_its_own_events_when_it_ends(django_capture_on_commit_callbacks, sends):
    with gathered():
        with django_capture_on_commit_callbacks(execute=True):
            publish("outer", {}, groups=["user.6"])
        with gathered():
            with django_capture_on_commit_callbacks(execute=True):
                publish("inner", {}, groups=["user.6"])
        assert sends == [["inner"]]
    assert sends == [["inner"], ["outer"]]


def test_nothing_is_sent_when_the_transaction_rolls_back(django_capture_on_commit_callbacks, sends):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                publish("lost", {}, groups=["user.3"])
                raise RuntimeError
        except RuntimeError:
            pass
    assert callbacks == [] and sends == []


def test_every_member_of_the_groups_gets_each_event(django_capture_on_commit_callbacks):
    layer, (both, supervisor_only, team_only) = joined(
        ["org.9.supervisors", "team.9"], ["org.9.supervisors"], ["team.9"])
    with gathered(), django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            publish("a", {"n": 1}, groups=["org.9.supervisors", "team.9"])
            publish("b", {"n": 2}, groups=["team.9"])
    assert [f["event"] for f in received(layer, supervisor_only, "org.9.supervisors")] == ["a"]
    assert [f["event"] for f in received(layer, team_only, "team.9")] == ["a", "b"]
    frames = [f["event"] for f in received(layer, both, "team.9")]
    # One copy per socket, however many of the event's groups it is in.
    assert frames == ["a", "b"]


def test_a_burst_published_in_one_transaction_reaches_a_slow_client_whole(django_capture_on_commit_callbacks):
    layer, (channel,) = joined(["team.10"])
    with gathered(), django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            for n in range(2000):
                publish("burst", {"n": n}, groups=["team.10"])
    assert [f["data"]["n"] for f in received(layer, channel, "team.10")] == list(range(2000))


def test_consecutive_batches_reach_a_socket_in_publish_order(django_capture_on_commit_callbacks, monkeypatch):
    # A batch's copies are scored one step apart and may run ahead of the clock; the
    # next batch must still be read after it (its first score follows the last one).
    # The publisher's clock stands still here, the worst case of a fast machine.
    import time
    from types import SimpleNamespace

    frozen = time.time()
    monkeypatch.setattr(publish_module, "time", SimpleNamespace(time=lambda: frozen))
    layer, (channel,) = joined(["team.11"])
    for first, count in ((0, 50), (50, 1), (51, 30), (81, 1)):
        with gathered(), django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                for n in range(first, first + count):
                    publish("seq", {"n": n}, groups=["team.11"])
    assert [f["data"]["n"] for f in received(layer, channel, "team.11")] == list(range(82))


def test_a_publish_from_a_thread_running_an_event_loop_is_delivered():
    """Sync code called straight from a running loop (a test driving a browser, a
    service called without sync_to_async) still delivers: asgiref refuses to block
    that loop, so the batch leaves from a thread of its own."""
    import asyncio

    layer = get_channel_layer()

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add("test.loop-thread", channel)
        publish_module._deliver(layer, [(["test.loop-thread"], {"type": "inbox.rights", "reason": "test"})])
        return await asyncio.wait_for(layer.receive(channel), 5)

    message = asyncio.run(scenario())
    assert message == {"type": "inbox.rights", "reason": "test"}


class PublicOnly:
    """The Redis layer seen through its public API only, as a release without the
    internals the batched send uses would be."""

    def __init__(self, layer):
        self.layer = layer

    async def group_send(self, group, message):
        await self.layer.group_send(group, message)


def test_a_layer_without_the_internals_gets_each_event_through_group_send_in_order():
    layer, (first, second) = joined(["g.a"], ["g.a", "g.b"])
    assert publish_module._batched_redis_layer(layer)
    public = PublicOnly(layer)
    assert not publish_module._batched_redis_layer(public)
    batch = [(["g.a"], {"type": "inbox.event", "event": "one", "data": {}}),
             (["g.a", "g.b"], {"type": "inbox.event", "event": "two", "data": {}}),
             (["g.b"], {"type": "inbox.event", "event": "three", "data": {}})]
    async_to_sync(publish_module._group_send_all)(public, batch)
    assert [f["event"] for f in received(layer, first, "g.a")] == ["one", "two"]
    # Without the batched send a channel in two of an event's groups gets it twice.
    assert [f["event"] for f in received(layer, second, "g.b")] == ["one", "two", "two", "three"]
