"""A change made in Django admin reaches the user's open sockets at once, as one made
through the REST API does: admin goes through accounts.services (no waiting for the
periodic rights check, which these tests put an hour away)."""

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from apps.accounts.models import User
from apps.accounts.tests.factories import AdminFactory
from apps.conversations.services import conversation_publish
from apps.conversations.tests.factories import ConversationFactory
from apps.live.consumers import CLOSE_SIGNED_OUT

from .conftest import conversation_frames
from .helpers import after_change, team_form, user_form

pytestmark = pytest.mark.django_db(transaction=True)

UPDATE = "conversation.updated"


@pytest.fixture(autouse=True)
def _no_periodic_check(settings):
    settings.REALTIME_RIGHTS_CHECK_SECONDS = 3600


@pytest.fixture
def admin_client(world):
    client = Client()
    client.force_login(AdminFactory(organization=world["org"], is_staff=True, username="orgadmin"))
    return client


def post(client, url, data):
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]


def sessions_of(user) -> list[str]:
    return [s.session_key for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)]


def test_deactivating_a_user_in_admin_ends_their_sessions_and_closes_their_socket_at_once(world, admin_client):
    agent = world["agent_a"]
    other_browser = Client()
    other_browser.force_login(agent)
    data = user_form(agent)
    del data["is_active"]
    _, code = after_change(agent, lambda: post(admin_client, f"/admin/accounts/user/{agent.pk}/change/", data), [])
    assert code == CLOSE_SIGNED_OUT
    agent.refresh_from_db()
    assert agent.is_active is False
    assert sessions_of(agent) == []
    assert other_browser.get("/api/v1/me/").status_code == 403


def test_demoting_a_supervisor_in_admin_reaches_their_socket_at_once(world, admin_client):
    supervisor = world["supervisor"]
    conversation = ConversationFactory(organization=world["org"], number=world["number"])
    frames, code = after_change(
        supervisor,
        lambda: post(admin_client, f"/admin/accounts/user/{supervisor.pk}/change/",
                     user_form(supervisor, role=User.Role.AGENT)),
        [lambda: conversation_publish(conversation)],
    )
    assert code is None
    assert conversation_frames(frames) == []
    supervisor.refresh_from_db()
    assert supervisor.role == User.Role.AGENT


def test_taking_a_user_out_of_a_team_in_the_user_admin_reaches_their_socket_at_once(world, admin_client):
    agent = world["agent_a"]
    team = agent.teams.get()
    routed = ConversationFactory(organization=world["org"], number=world["number"], team=team)
    frames, code = after_change(
        agent,
        lambda: post(admin_client, f"/admin/accounts/user/{agent.pk}/change/", user_form(agent, teams=[])),
        [lambda: conversation_publish(routed)],
    )
    assert code is None
    assert conversation_frames(frames) == []
    assert list(agent.teams.all()) == []


def test_removing_an_agent_from_a_team_in_admin_reaches_their_socket_at_once(world, admin_client):
    agent = world["agent_a"]
    team = agent.teams.get()
    routed = ConversationFactory(organization=world["org"], number=world["number"], team=team)
    on_number = ConversationFactory(organization=world["org"], number=world["number"])
    frames, code = after_change(
        agent,
        lambda: post(admin_client, f"/admin/accounts/team/{team.pk}/change/",
                     team_form(team, members=[world["agent_b"].pk])),
        [lambda: conversation_publish(routed), lambda: conversation_publish(on_number)],
    )
    assert code is None
    assert conversation_frames(frames) == []
    assert list(team.members.all()) == [world["agent_b"]]


def test_taking_a_number_from_a_team_in_admin_reaches_its_agents_sockets_at_once(world, admin_client):
    agent = world["agent_a"]
    team = agent.teams.get()
    on_number = ConversationFactory(organization=world["org"], number=world["number"])
    frames, code = after_change(
        agent,
        lambda: post(admin_client, f"/admin/accounts/team/{team.pk}/change/", team_form(team, numbers=[])),
        [lambda: conversation_publish(on_number)],
    )
    assert code is None
    assert conversation_frames(frames) == []
    assert list(team.numbers.all()) == []


def test_adding_an_agent_to_a_team_in_admin_reaches_their_socket_at_once(world, admin_client):
    loner = world["loner"]
    team = world["agent_a"].teams.get()
    routed = ConversationFactory(organization=world["org"], number=world["number"], team=team)
    frames, code = after_change(
        loner,
        lambda: post(admin_client, f"/admin/accounts/team/{team.pk}/change/",
                     team_form(team, members=[world["agent_a"].pk, world["agent_b"].pk, loner.pk])),
        [lambda: conversation_publish(routed)],
    )
    assert code is None
    assert conversation_frames(frames) == [(UPDATE, routed.id)]


def test_deleting_a_team_in_admin_reaches_its_agents_sockets_at_once(world, admin_client):
    agent = world["agent_a"]
    team = agent.teams.get()
    on_number = ConversationFactory(organization=world["org"], number=world["number"])
    frames, code = after_change(
        agent,
        lambda: post(admin_client, f"/admin/accounts/team/{team.pk}/delete/", {"post": "yes"}),
        [lambda: conversation_publish(on_number)],
    )
    assert code is None
    assert conversation_frames(frames) == []
