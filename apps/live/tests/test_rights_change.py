"""Open sockets follow their user's rights: a change of role, team, active state,
password or session reaches them within seconds (they recompute their groups or
close), each client action is checked against the rights of now, and a catch-up
replays only the groups the user may see now."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.contrib.sessions.models import Session
from django.test import Client

from apps.accounts import services as account_services
from apps.accounts.models import User
from apps.accounts.tests.factories import TeamFactory
from apps.conversations.services import conversation_publish
from apps.conversations.tests.factories import ConversationFactory
from apps.live.consumers import CLOSE_RECONNECT, CLOSE_SIGNED_OUT

from .conftest import (
    conversation_frames,
    open_socket,
    receive_skipping_presence,
    session_cookie,
    until_barrier,
)
from .helpers import after_change, closed_with

pytestmark = pytest.mark.django_db(transaction=True)

UPDATE = "conversation.updated"


def test_a_demoted_supervisor_stops_receiving_the_organisations_conversations(world):
    supervisor = world["supervisor"]
    conversation = ConversationFactory(organization=world["org"], number=world["number"])
    frames, code = after_change(
        supervisor,
        lambda: account_services.user_update(user=supervisor, role=User.Role.AGENT),
        [lambda: conversation_publish(conversation)],
    )
    assert code is None
    assert conversation_frames(frames) == []
    supervisor.refresh_from_db()
    assert supervisor.role == User.Role.AGENT


def test_an_agent_promoted_to_supervisor_starts_receiving_them(world):
    loner = world["loner"]
    conversation = ConversationFactory(organization=world["org"], number=world["number"])
    frames, code = after_change(
        loner,
        lambda: account_services.user_update(user=loner, role=User.Role.SUPERVISOR),
        [lambda: conversation_publish(conversation)],
    )
    assert code is None
    assert conversation_frames(frames) == [(UPDATE, conversation.id)]


def test_an_agent_removed_from_a_team_stops_receiving_its_conversations(world):
    agent = world["agent_a"]
    team = agent.teams.get()
    routed = ConversationFactory(organization=world["org"], number=world["number"], team=team)
    on_number = ConversationFactory(organization=world["org"], number=world["number"])
    frames, code = after_change(
        agent,
        lambda: account_services.team_members_set(team=team, members=[world["agent_b"]]),
        [lambda: conversation_publish(routed), lambda: conversation_publish(on_number)],
    )
    assert code is None
    assert conversation_frames(frames) == []
    assert list(team.members.all()) == [world["agent_b"]]


def test_an_agent_added_to_a_team_starts_receiving_its_conversations(world):
    loner = world["loner"]
    team = TeamFactory(organization=world["org"])
    routed = ConversationFactory(organization=world["org"], number=world["number"], team=team)
    frames, code = after_change(
        loner,
        lambda: account_services.user_teams_set(user=loner, teams=[team]),
        [lambda: conversation_publish(routed)],
    )
    assert code is None
    assert conversation_frames(frames) == [(UPDATE, routed.id)]


def test_deactivation_closes_the_socket_and_ends_every_session(world):
    agent = world["agent_a"]
    other_browser = Client()
    other_browser.force_login(agent)
    assert other_browser.get("/api/v1/me/").status_code == 200
    frames, code = after_change(agent, lambda: account_services.user_update(user=agent, is_active=False), [])
    assert code == CLOSE_SIGNED_OUT
    agent.refresh_from_db()
    assert agent.is_active is False
    assert [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(agent.pk)] == []
    # Active again, the old sessions do not come back to life.
    account_services.user_update(user=agent, is_active=True)
    assert other_browser.get("/api/v1/me/").status_code == 403


@pytest.mark.parametrize("how", ["service", "set_password_and_save", "admin_password_form"])
def test_a_password_change_closes_the_socket(world, how):
    agent = world["agent_a"]
    new_password = "another-horse-battery-staple"

    def change():
        user = User.objects.get(pk=agent.pk)
        if how == "service":
            account_services.user_set_password(user=user, password=new_password)
        elif how == "set_password_and_save":
            user.set_password(new_password)
            user.save()
        else:
            from django.contrib.auth.forms import AdminPasswordChangeForm

            form = AdminPasswordChangeForm(user, {"password1": new_password, "password2": new_password})
            assert form.is_valid(), form.errors
            form.save()

    frames, code = after_change(agent, change, [])
    assert code in (CLOSE_RECONNECT, CLOSE_SIGNED_OUT)
    agent.refresh_from_db()
    assert agent.check_password(new_password)


def test_logout_closes_that_sessions_socket_and_no_other(world):
    agent = world["agent_a"]
    browser, other = Client(), Client()
    browser.force_login(agent)
    other.force_login(agent)
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    other_cookie = f"sessionid={other.cookies['sessionid'].value}".encode()
    conversation = ConversationFactory(organization=world["org"], number=world["number"])

    async def scenario():
        comm, _ = await open_socket(cookie)
        other_comm, _ = await open_socket(other_cookie)
        response = await database_sync_to_async(browser.post)("/accounts/logout/")
        assert response.status_code == 302
        code = await closed_with(comm)
        await comm.disconnect()  # as the server does after the close
        await database_sync_to_async(conversation_publish)(conversation)
        frames = (await until_barrier({"other": (other_comm, agent)}))["other"]
        await other_comm.disconnect()
        return code, frames

    code, frames = async_to_sync(scenario)()
    assert code == CLOSE_SIGNED_OUT
    assert conversation_frames(frames) == [(UPDATE, conversation.id)]


def test_a_change_made_outside_the_services_reaches_the_socket_within_the_check_interval(world, settings):
    settings.REALTIME_RIGHTS_CHECK_SECONDS = 0.3
    supervisor = world["supervisor"]
    conversation = ConversationFactory(organization=world["org"], number=world["number"])

    def demote():
        User.objects.filter(pk=supervisor.pk).update(role=User.Role.AGENT)
        import time

        time.sleep(1)  # a few check intervals

    frames, code = after_change(supervisor, demote, [lambda: conversation_publish(conversation)])
    assert code is None
    assert conversation_frames(frames) == []


def test_a_user_deactivated_outside_the_services_is_closed_within_the_check_interval(world, settings):
    settings.REALTIME_RIGHTS_CHECK_SECONDS = 0.3
    agent = world["agent_a"]

    def deactivate():
        User.objects.filter(pk=agent.pk).update(is_active=False)
        import time

        time.sleep(1)  # a few check intervals

    _, code = after_change(agent, deactivate, [])
    assert code == CLOSE_SIGNED_OUT


def test_typing_is_checked_against_the_rights_of_now(world, settings, published):
    settings.REALTIME_RIGHTS_CHECK_SECONDS = 3600  # no periodic check: the action itself must check
    supervisor = world["supervisor"]
    conversation = ConversationFactory(organization=world["org"], number=world["number"])
    cookie = session_cookie(supervisor)

    async def scenario():
        comm, _ = await open_socket(cookie)
        await database_sync_to_async(User.objects.filter(pk=supervisor.pk).update)(role=User.Role.AGENT)
        await comm.send_json_to({"action": "typing", "conversation_id": conversation.id})
        frame = await receive_skipping_presence(comm)
        await comm.disconnect()
        return frame

    frame = async_to_sync(scenario)()
    assert frame["event"] == "error"
    assert frame["data"]["field"] == "conversation_id"
    assert [e for e in published if e[0] == "typing"] == []


def test_catch_up_replays_only_the_groups_the_user_may_see_now(world, settings):
    settings.REALTIME_RIGHTS_CHECK_SECONDS = 3600  # the catch-up itself must look
    supervisor = world["supervisor"]
    conversation = ConversationFactory(organization=world["org"], number=world["number"])
    cookie = session_cookie(supervisor)

    async def scenario():
        comm, frames = await open_socket(cookie)
        cursor = frames[-1]["data"]["cursor"]
        for _ in range(3):
            await database_sync_to_async(conversation_publish)(conversation)
        await until_barrier({"me": (comm, supervisor)})
        await database_sync_to_async(User.objects.filter(pk=supervisor.pk).update)(role=User.Role.AGENT)
        await comm.send_json_to({"action": "catch_up", "since": cursor})
        replayed = []
        while (frame := await comm.receive_json_from(timeout=5))["event"] not in ("catch_up.done", "catch_up.reset"):
            replayed.append(frame)
        await comm.disconnect()
        return replayed

    assert conversation_frames(async_to_sync(scenario)()) == []

