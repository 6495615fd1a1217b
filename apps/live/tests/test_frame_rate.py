"""Client frames are rate-limited per socket: frames over the rate are dropped with
an error frame, and a socket that keeps flooding is closed."""

import json

import pytest
from asgiref.sync import async_to_sync

from apps.live import presence
from apps.live.consumers import CLOSE_FLOODING

from .conftest import open_socket, receive_skipping_presence, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def test_frames_over_the_rate_are_dropped_with_an_error(world, settings):
    # A refill slow enough that a loaded machine's pauses between frames add no token.
    settings.WS_MAX_FRAMES_PER_SECOND = 0.01
    settings.WS_FRAMES_BURST = 3
    agent = world["agent_a"]
    cookie = session_cookie(agent)

    async def scenario():
        comm, _ = await open_socket(cookie)  # its catch_up is the first frame of the burst
        await comm.send_json_to({"action": "presence", "status": "online"})
        await comm.send_json_to({"action": "presence", "status": "online"})
        # Over the burst: dropped, not applied.
        await comm.send_json_to({"action": "presence", "status": "away"})
        frame = await receive_skipping_presence(comm)
        statuses = presence.get_store().socket_statuses([agent.id])
        await comm.disconnect()
        return frame, statuses

    frame, statuses = async_to_sync(scenario)()
    assert frame["event"] == "error"
    assert frame["data"]["field"] == "rate"
    assert statuses == {agent.id: ["online"]}


def test_a_socket_that_keeps_flooding_is_closed(world, settings):
    settings.WS_MAX_FRAMES_PER_SECOND = 0.01
    settings.WS_FRAMES_BURST = 3
    cookie = session_cookie(world["agent_a"])

    async def scenario():
        comm, _ = await open_socket(cookie)
        for _ in range(50):
            await comm.send_json_to({"action": "presence", "status": "online"})
        outputs = []
        while True:
            output = await comm.receive_output(timeout=5)
            outputs.append(output)
            if output["type"] == "websocket.close":
                break
        await comm.disconnect()  # as the server does after the close
        return outputs

    outputs = async_to_sync(scenario)()
    assert outputs[-1] == {"type": "websocket.close", "code": CLOSE_FLOODING}
    # One error frame per dropped frame until the close: a burst's worth.
    sent = [json.loads(o["text"]) for o in outputs if o["type"] == "websocket.send"]
    sent = [f for f in sent if f["event"] != "presence"]
    assert [(f["event"], f["data"]["field"]) for f in sent] == [("error", "rate")] * 3


def test_a_user_may_hold_only_so_many_sockets(world, settings):
    from apps.live.consumers import CLOSE_TOO_MANY_SOCKETS

    from .conftest import communicator

    settings.WS_MAX_SOCKETS_PER_USER = 2
    agent_cookie = session_cookie(world["agent_a"])
    other_cookie = session_cookie(world["agent_b"])

    async def scenario():
        first, _ = await open_socket(agent_cookie)
        second, _ = await open_socket(agent_cookie)
        third = communicator(cookie=agent_cookie)
        await third.connect()
        closed = await third.receive_output(timeout=5)
        colleague, _ = await open_socket(other_cookie)  # the limit is per user
        for comm in (first, second, colleague):
            await comm.disconnect()
        again, _ = await open_socket(agent_cookie)  # closed sockets free their place
        await again.disconnect()
        return closed

    closed = async_to_sync(scenario)()
    assert closed == {"type": "websocket.close", "code": CLOSE_TOO_MANY_SOCKETS}
