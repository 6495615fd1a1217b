"""The inbox websocket: who may connect, and who receives what."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from apps.accounts.tests.factories import SupervisorFactory, TeamFactory, UserFactory
from apps.conversations.services import conversation_publish
from apps.conversations.tests.factories import ConversationFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = b"http://testserver"


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def communicator(user=None, origin=ORIGIN, cookie=None):
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if user is not None:
        cookie = session_cookie(user)
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/inbox/", headers=headers)


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
        "supervisor": SupervisorFactory(organization=org),
        "outsider": SupervisorFactory(),
    }


def received(users: dict, publish_actions) -> dict:
    """Connect each user, run the publish actions, and return the event ids each got."""

    cookies = {name: session_cookie(user) for name, user in users.items()}

    async def scenario():
        from channels.db import database_sync_to_async

        comms = {name: communicator(cookie=cookie) for name, cookie in cookies.items()}
        for comm in comms.values():
            connected, _ = await comm.connect()
            assert connected
        for action in publish_actions:
            await database_sync_to_async(action)()
        got = {}
        for name, comm in comms.items():
            events = []
            while not await comm.receive_nothing(timeout=0.2):
                message = await comm.receive_json_from()
                events.append((message["event"], message["data"]["id"]))
            got[name] = events
            await comm.disconnect()
        return got

    return async_to_sync(scenario)()


def test_each_socket_receives_only_what_its_user_may_see(world):
    org, number = world["org"], world["number"]
    mine = ConversationFactory(organization=org, number=number, assignee=world["agent_a"])
    colleague = ConversationFactory(organization=org, number=number, assignee=world["agent_b"])
    unassigned = ConversationFactory(organization=org, number=number)
    users = {k: world[k] for k in ("agent_a", "agent_b", "supervisor", "outsider")}
    got = received(users, [lambda c=c: conversation_publish(c) for c in (mine, colleague, unassigned)])
    update = "conversation.updated"
    assert got["agent_a"] == [(update, mine.id), (update, unassigned.id)]
    assert got["agent_b"] == [(update, colleague.id), (update, unassigned.id)]
    assert got["supervisor"] == [(update, mine.id), (update, colleague.id), (update, unassigned.id)]
    assert got["outsider"] == []


def test_after_reassignment_the_previous_assignee_stops_receiving(world):
    conversation = ConversationFactory(organization=world["org"], number=world["number"], assignee=world["agent_a"])

    def reassign():
        conversation.assignee = world["agent_b"]
        conversation.save(update_fields=["assignee"])
        conversation_publish(conversation)

    got = received({"a": world["agent_a"], "b": world["agent_b"]}, [reassign])
    assert got == {"a": [], "b": [("conversation.updated", conversation.id)]}
