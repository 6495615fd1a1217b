"""Helpers for the websocket tests: sockets with a real session, a clean replay log."""

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from apps.accounts.tests.factories import SupervisorFactory, TeamFactory, UserFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

ORIGIN = b"http://testserver"


@pytest.fixture(autouse=True)
def _clean_realtime_state():
    """Ids of users and conversations repeat across tests; their groups' logs must not."""
    from channels.layers import channel_layers

    from apps.realtime import replay
    from apps.live import presence

    channel_layers.backends.pop("default", None)
    replay.get_log().clear()
    presence.get_store().clear()
    yield
    replay.get_log().clear()
    presence.get_store().clear()


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def communicator(user=None, origin=ORIGIN, cookie=None):
    from config.asgi import application

    headers = [(b"origin", origin), (b"host", b"testserver")]
    if user is not None:
        cookie = session_cookie(user)
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/inbox/", headers=headers)


async def drain(comm, timeout=0.5) -> list[dict]:
    """Every frame the socket has received, until it stays quiet."""
    frames = []
    while not await comm.receive_nothing(timeout=timeout):
        frames.append(await comm.receive_json_from())
    return frames


async def until_barrier(sockets: dict) -> dict[str, list[dict]]:
    """{name: (socket, user)} -> the frames each socket received before a barrier event
    published now to its user's own group (a channel receives in publish order), so a
    busy machine cannot make a late frame look absent."""
    from channels.db import database_sync_to_async

    from apps.realtime import groups
    from apps.realtime.publish import publish_now

    users = {user.id for _, user in sockets.values()}
    await database_sync_to_async(publish_now)("test.barrier", {}, groups=[groups.user(uid) for uid in users])
    got = {}
    for name, (comm, _) in sockets.items():
        frames = []
        while (frame := await comm.receive_json_from(timeout=30))["event"] != "test.barrier":
            frames.append(frame)
        got[name] = frames
    return got


async def open_socket(cookie, since=None):
    """Connect, ask for the catch-up (as live.js does on every connection) and return
    the socket with the frames received up to catch_up.done / catch_up.reset."""
    comm = communicator(cookie=cookie)
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"action": "catch_up", "since": since})
    frames = []
    while True:
        frame = await comm.receive_json_from(timeout=5)
        frames.append(frame)
        if frame["event"] in ("catch_up.done", "catch_up.reset"):
            return comm, frames


async def receive_skipping_presence(comm, timeout=5):
    """The next frame that is not a presence announcement: a socket's own connect
    announces its user online to the organisation, and that frame may arrive at any
    point after the catch-up."""
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame.get("event") != "presence":
            return frame


def conversation_frames(frames) -> list[tuple[str, int]]:
    return [(f["event"], f["data"]["id"]) for f in frames if f["event"].split(".")[0] in ("conversation", "message")]


@pytest.fixture
def world():
    number = WhatsAppNumberFactory()
    org = number.organization
    agent_a, agent_b = UserFactory(organization=org), UserFactory(organization=org)
    TeamFactory(organization=org, members=[agent_a, agent_b], numbers=[number])
    return {
        "org": org,
        "number": number,
        "agent_a": agent_a,
        "agent_b": agent_b,
        "loner": UserFactory(organization=org),  # of the organisation, in no team
        "supervisor": SupervisorFactory(organization=org),
        "outsider": SupervisorFactory(),
    }
