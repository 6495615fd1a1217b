"""Typing (access-checked, Meta's indicator through the simulator) and presence."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from apps.accounts.services import user_set_availability
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.tests.factories import MessageFactory
from apps.live import presence
from apps.simulator.models import SimulatedMessage
from apps.simulator.testing import simulator  # noqa: F401

from .conftest import drain, open_socket, session_cookie, until_barrier

pytestmark = pytest.mark.django_db(transaction=True)


def events(frames, name):
    return [f["data"] for f in frames if f["event"] == name]


def test_typing_reaches_the_conversations_viewers_and_meta(world, simulator):  # noqa: F811
    conversation = ConversationFactory(organization=world["org"], number=world["number"], assignee=world["agent_a"])
    inbound = MessageFactory(conversation=conversation)
    SimulatedMessage.objects.create(phone_number_id=world["number"].phone_number_id, customer=conversation.contact.wa_id,
                                    direction="in", wamid=inbound.wamid, type="text")
    cookies = {k: session_cookie(world[k]) for k in ("agent_a", "agent_b", "supervisor")}

    async def scenario():
        sockets = {k: ((await open_socket(c))[0], world[k]) for k, c in cookies.items()}
        await until_barrier(sockets)
        await sockets["agent_a"][0].send_json_to({"action": "typing", "conversation_id": conversation.id})
        first = await drain(sockets["agent_a"][0])  # the request has been handled
        frames = await until_barrier(sockets)
        frames["agent_a"] = first + frames["agent_a"]
        got = {k: events(f, "typing") for k, f in frames.items()}
        for comm, _ in sockets.values():
            await comm.disconnect()
        return got

    got = async_to_sync(scenario)()
    expected = {"conversation_id": conversation.id, "user_id": world["agent_a"].id, "name": world["agent_a"].name,
                "who": "agent"}
    assert got == {"agent_a": [expected], "agent_b": [], "supervisor": [expected]}
    # Meta's typing indicator goes with the read receipt of the customer's last message.
    assert SimulatedMessage.objects.get(wamid=inbound.wamid).status == "read"


def test_typing_in_a_conversation_the_user_may_not_see_is_refused_and_published_nowhere(world, published):
    conversation = ConversationFactory(organization=world["org"], number=world["number"], assignee=world["agent_b"])
    foreign = ConversationFactory()
    cookies = {k: session_cookie(world[k]) for k in ("agent_a", "supervisor")}

    async def scenario():
        comms = {k: (await open_socket(c))[0] for k, c in cookies.items()}
        for comm in comms.values():
            await drain(comm)
        answers = []
        for target in (conversation.id, foreign.id, 10**9):
            await comms["agent_a"].send_json_to({"action": "typing", "conversation_id": target})
            answers.append([(f["event"], f["data"].get("field")) for f in await drain(comms["agent_a"])])
        supervisor_frames = await drain(comms["supervisor"])
        for comm in comms.values():
            await comm.disconnect()
        return answers, supervisor_frames

    answers, supervisor_frames = async_to_sync(scenario)()
    assert answers == [[("error", "conversation_id")]] * 3
    assert events(supervisor_frames, "typing") == []
    assert [e for e in published if e[0] == "typing"] == []


def statuses(frames, user):
    return [d["status"] for d in events(frames, "presence") if d["user_id"] == user.id]


def test_presence_online_on_first_socket_offline_after_the_last(world):
    agent, watcher = world["agent_a"], world["supervisor"]
    cookies = {"agent": session_cookie(agent), "watcher": session_cookie(watcher)}

    async def scenario():
        seen = []
        watch, _ = await open_socket(cookies["watcher"])
        await drain(watch)
        tab1, _ = await open_socket(cookies["agent"])
        seen.append(statuses(await drain(watch), agent))
        tab2, _ = await open_socket(cookies["agent"])
        seen.append(statuses(await drain(watch), agent))
        seen.append(await database_sync_to_async(presence.presence_for_organization)(world["org"].id))
        await tab1.disconnect()
        seen.append(statuses(await drain(watch), agent))
        await tab2.disconnect()
        seen.append(statuses(await drain(watch), agent))
        seen.append(await database_sync_to_async(presence.presence_for_organization)(world["org"].id))
        await watch.disconnect()
        return seen

    first, second, during, after_one, after_last, later = async_to_sync(scenario)()
    assert (first, second, after_one, after_last) == (["online"], [], [], ["offline"])
    assert during[agent.id] == "online" and during[watcher.id] == "online"
    assert during[world["agent_b"].id] == "offline"
    assert later[agent.id] == "offline" and set(later) == {u.id for u in world["org"].users.all()}


def test_presence_away_when_the_client_says_so_or_the_agent_sets_availability(world):
    agent, watcher = world["agent_a"], world["supervisor"]
    cookies = {"agent": session_cookie(agent), "watcher": session_cookie(watcher)}

    async def scenario():
        seen = []
        watch, _ = await open_socket(cookies["watcher"])
        tab1, _ = await open_socket(cookies["agent"])
        tab2, _ = await open_socket(cookies["agent"])
        await drain(watch)
        await tab1.send_json_to({"action": "presence", "status": "away"})
        await drain(tab1)
        seen.append(statuses(await drain(watch), agent))  # the other tab is still active
        await tab2.send_json_to({"action": "presence", "status": "away"})
        await drain(tab2)
        seen.append(statuses(await drain(watch), agent))
        await tab1.send_json_to({"action": "presence", "status": "online"})
        await drain(tab1)
        seen.append(statuses(await drain(watch), agent))
        await database_sync_to_async(user_set_availability)(user=agent, availability="away")
        await drain(tab1)
        seen.append(statuses(await drain(watch), agent))
        for comm in (tab1, tab2, watch):
            await comm.disconnect()
        return seen

    assert async_to_sync(scenario)() == [[], ["away"], ["online"], ["away"]]


def test_sockets_of_a_killed_process_expire_and_a_colleagues_heartbeat_announces_offline(world, monkeypatch):
    agent, watcher = world["agent_a"], world["supervisor"]
    cookie = session_cookie(watcher)
    # The killed process's socket: registered, announced online, never disconnected;
    # its last heartbeat is older than the TTL.
    real_time = presence.time.time
    monkeypatch.setattr(presence.time, "time", lambda: real_time() - 10 * presence.ttl())
    presence.presence_connect(user_id=agent.id, channel="dead-process!socket")
    monkeypatch.setattr(presence.time, "time", real_time)
    assert presence.presence_for_organization(world["org"].id)[agent.id] == "offline"

    async def scenario():
        watch, _ = await open_socket(cookie)
        await drain(watch)
        gone = await database_sync_to_async(presence.presence_heartbeat)(
            user_id=watcher.id, organization_id=world["org"].id, channel="watcher-channel")
        frames = await drain(watch)
        await watch.disconnect()
        return gone, frames

    gone, frames = async_to_sync(scenario)()
    assert gone == [agent.id]
    assert statuses(frames, agent) == ["offline"]


def test_the_sweep_for_expired_sockets_runs_once_per_interval_per_organisation(world, monkeypatch):
    # Every socket heartbeats; the organisation is swept by the first heartbeat of an
    # interval only (the sweep reads every announced user).
    agent, watcher = world["agent_a"], world["supervisor"]
    real_time = presence.time.time
    monkeypatch.setattr(presence.time, "time", lambda: real_time() - 10 * presence.ttl())
    presence.presence_connect(user_id=agent.id, channel="dead-process!socket")
    monkeypatch.setattr(presence.time, "time", real_time)
    read = []
    real_statuses = type(presence.get_store()).socket_statuses
    monkeypatch.setattr(type(presence.get_store()), "socket_statuses",
                        lambda self, user_ids: read.append(set(user_ids)) or real_statuses(self, user_ids))
    org = world["org"].id
    first = presence.presence_heartbeat(user_id=watcher.id, organization_id=org, channel="w1")
    swept_once = len(read)
    second = presence.presence_heartbeat(user_id=watcher.id, organization_id=org, channel="w2")
    assert first == [agent.id] and second == []
    assert len(read) == swept_once  # the second heartbeat read nobody's sockets
    # After the interval the next heartbeat sweeps again.
    monkeypatch.setattr(presence.time, "time", lambda: real_time() + presence.SWEEP_EVERY + 1)
    presence.get_store().redis.delete(f"{presence.PREFIX}sweep:{org}")  # Redis expires it on its own clock
    presence.presence_heartbeat(user_id=watcher.id, organization_id=org, channel="w3")
    assert len(read) > swept_once
