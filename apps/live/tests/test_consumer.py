"""The inbox websocket: who may connect, who receives what, and the frame format."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from apps.accounts.tests.factories import UserFactory
from apps.conversations.services import conversation_assign, conversation_publish
from apps.conversations.tests.factories import ConversationFactory
from apps.realtime import replay

from .conftest import communicator, conversation_frames, drain, open_socket, session_cookie, until_barrier

pytestmark = pytest.mark.django_db(transaction=True)


async def _connects(comm) -> bool:
    connected, _ = await comm.connect()
    await comm.disconnect()
    return connected


def test_anonymous_connection_is_refused():
    assert async_to_sync(_connects)(communicator()) is False


def test_cross_origin_connection_is_refused():
    agent = UserFactory()
    assert async_to_sync(_connects)(communicator(agent, origin=b"http://evil.example")) is False


def test_member_connects_from_the_allowed_origin():
    assert async_to_sync(_connects)(communicator(UserFactory())) is True


def test_user_of_no_organisation_is_refused():
    assert async_to_sync(_connects)(communicator(UserFactory(organization=None))) is False


def test_inactive_user_is_refused():
    assert async_to_sync(_connects)(communicator(UserFactory(is_active=False))) is False


def test_a_session_signed_in_under_the_earlier_backend_name_connects():
    """Sessions stored before the backend's rename (Django's ModelBackend) connect at
    once: a page reconnecting after a deploy has made no HTTP request to rename it."""
    from django.contrib.auth import BACKEND_SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from apps.accounts.backends import BACKEND, EARLIER_BACKEND

    user = UserFactory()
    cookie = session_cookie(user)
    key = cookie.decode().split("=", 1)[1]
    session = SessionStore(session_key=key)
    session[BACKEND_SESSION_KEY] = EARLIER_BACKEND
    session.save()
    assert async_to_sync(_connects)(communicator(cookie=cookie)) is True
    assert SessionStore(session_key=key)[BACKEND_SESSION_KEY] == BACKEND


def received(users: dict, publish_actions) -> dict:
    """Connect each user, run the publish actions, and return every frame each got."""

    cookies = {name: session_cookie(user) for name, user in users.items()}

    async def scenario():
        sockets = {}
        for name, cookie in cookies.items():
            sockets[name] = ((await open_socket(cookie))[0], users[name])
        await until_barrier(sockets)  # the presence of those who connected after
        for action in publish_actions:
            await database_sync_to_async(action)()
        got = await until_barrier(sockets)
        for comm, _ in sockets.values():
            await comm.disconnect()
        return got

    return async_to_sync(scenario)()


def test_each_socket_receives_only_what_its_user_may_see(world):
    org, number = world["org"], world["number"]
    mine = ConversationFactory(organization=org, number=number, assignee=world["agent_a"])
    colleague = ConversationFactory(organization=org, number=number, assignee=world["agent_b"])
    unassigned = ConversationFactory(organization=org, number=number)
    users = {k: world[k] for k in ("agent_a", "agent_b", "loner", "supervisor", "outsider")}
    got = received(users, [lambda c=c: conversation_publish(c) for c in (mine, colleague, unassigned)])
    got = {name: conversation_frames(frames) for name, frames in got.items()}
    update = "conversation.updated"
    assert got["agent_a"] == [(update, mine.id), (update, unassigned.id)]
    assert got["agent_b"] == [(update, colleague.id), (update, unassigned.id)]
    assert got["loner"] == []
    assert got["supervisor"] == [(update, mine.id), (update, colleague.id), (update, unassigned.id)]
    assert got["outsider"] == []


def test_every_frame_carries_an_increasing_cursor(world):
    conversations = [ConversationFactory(organization=world["org"], number=world["number"]) for _ in range(5)]
    got = received({"s": world["supervisor"]}, [lambda c=c: conversation_publish(c) for c in conversations])
    ids = [replay.parse_id(frame["id"]) for frame in got["s"]]
    assert [frame["data"]["id"] for frame in got["s"]] == [c.id for c in conversations]
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_after_reassignment_the_previous_assignee_is_told_once_then_hears_nothing(world):
    conversation = ConversationFactory(organization=world["org"], number=world["number"], assignee=world["agent_a"])

    def reassign():
        conversation_assign(conversation=conversation, actor=world["supervisor"], assignee=world["agent_b"])

    got = received({"a": world["agent_a"], "b": world["agent_b"]}, [reassign, lambda: conversation_publish(conversation)])
    got = {name: conversation_frames(frames) for name, frames in got.items()}
    # The reassignment itself reaches the agent who lost the conversation (to drop it);
    # the next event reaches only the new assignee.
    assert got == {
        "a": [("conversation.updated", conversation.id)],
        "b": [("conversation.updated", conversation.id), ("conversation.updated", conversation.id)],
    }


def test_live_events_wait_for_the_catch_up_so_ids_never_go_backwards(world):
    """Events published between the connect and the client's catch_up come after the
    replayed ones, each once."""
    first = ConversationFactory(organization=world["org"], number=world["number"])
    cookie = session_cookie(world["supervisor"])

    async def scenario():
        comm, frames = await open_socket(cookie)
        await database_sync_to_async(conversation_publish)(first)
        cursor = (await drain(comm))[-1]["id"]
        await comm.disconnect()
        await database_sync_to_async(conversation_publish)(first)  # missed while away
        comm = communicator(cookie=cookie)
        await comm.connect()
        await database_sync_to_async(conversation_publish)(first)  # live, before the catch_up
        await comm.send_json_to({"action": "catch_up", "since": cursor})
        frames = await drain(comm)
        await comm.disconnect()
        return cursor, frames

    cursor, frames = async_to_sync(scenario)()
    updates = [f for f in frames if f["event"] == "conversation.updated"]
    assert frames[-1]["event"] == "catch_up.done"
    ids = [replay.parse_id(f["id"]) for f in updates]
    # The catch-up starts a little before the cursor (replay.MARGIN_MS), so the event
    # the client already had comes again, with its id, and the client drops it.
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 3
    assert updates[0]["id"] == cursor
    assert frames[-1]["data"]["cursor"] == updates[-1]["id"]


def test_unknown_action_and_bad_input_get_an_error_naming_the_field(world):
    cookie = session_cookie(world["agent_a"])

    async def scenario():
        comm, _ = await open_socket(cookie)
        answers = []
        for content in ({"action": "dance"}, {"action": "typing", "conversation_id": "x"},
                        {"action": "presence", "status": "busy"}):
            await comm.send_json_to(content)
            answers.append([f["data"]["field"] for f in await drain(comm) if f["event"] == "error"])
        await comm.disconnect()
        return answers

    assert async_to_sync(scenario)() == [["action"], ["conversation_id"], ["status"]]


def test_relaying_events_to_a_socket_hops_to_no_thread(world, monkeypatch):
    # An event a socket relays costs no trip to the sync thread (no database work, no
    # connection cleanup): with 200 sockets those trips queued behind each other.
    from asgiref.sync import SyncToAsync
    from channels.layers import get_channel_layer

    from apps.realtime import groups

    agent = world["agent_a"]
    cookie = session_cookie(agent)
    hops = []
    real_call = SyncToAsync.__call__

    def counting_call(self, *args, **kwargs):
        hops.append(getattr(self.func, "__name__", repr(self.func)))
        return real_call(self, *args, **kwargs)

    async def scenario():
        comm, _ = await open_socket(cookie)
        await drain(comm)
        monkeypatch.setattr(SyncToAsync, "__call__", counting_call)
        layer = get_channel_layer()
        for n in range(20):
            await layer.group_send(groups.user(agent.id),
                                   {"type": "inbox.event", "id": f"0-{n + 1}", "event": "e", "data": {"n": n}})
        frames = [await comm.receive_json_from(timeout=10) for _ in range(20)]
        monkeypatch.setattr(SyncToAsync, "__call__", real_call)
        await comm.disconnect()
        return frames

    frames = async_to_sync(scenario)()
    assert [f["data"]["n"] for f in frames] == list(range(20))
    assert hops == []


def test_a_group_event_is_encoded_once_for_the_sockets_of_a_process(world, monkeypatch):
    # The Redis layer gives the sockets of one process the same message: its frame is
    # encoded once, and every socket gets the same text.
    from channels.layers import get_channel_layer

    from apps.realtime import groups
    from apps.live.consumers import InboxConsumer

    org = world["org"]
    watchers = [world["supervisor"], world["agent_a"], world["agent_b"]]
    cookies = [session_cookie(user) for user in watchers]
    encoded = []
    real_encode = InboxConsumer.encode_json.__func__

    async def scenario():
        sockets = [(await open_socket(cookie))[0] for cookie in cookies]
        for comm in sockets:
            await drain(comm)
        async def counting_encode(cls, content):
            encoded.append(content)
            return await real_encode(cls, content)

        monkeypatch.setattr(InboxConsumer, "encode_json", classmethod(counting_encode))
        await get_channel_layer().group_send(groups.org_members(org.id), {
            "type": "inbox.event", "id": "1-1", "event": "presence", "data": {"user_id": 1, "status": "online"}})
        texts = [await comm.receive_output(timeout=10) for comm in sockets]
        for comm in sockets:
            await comm.disconnect()
        return texts

    texts = async_to_sync(scenario)()
    assert {t["text"] for t in texts} == {'{"id": "1-1", "event": "presence", "data": {"user_id": 1, "status": "online"}}'}
    assert [c["id"] for c in encoded].count("1-1") == 1
