"""Routing a conversation to a team: an agent only to a team they belong to,
supervisors and admins to any team of the organisation, never to another
organisation's team. One rule (access.can_assign, asked by
services.conversation_assign), the same answer at every door: the service, the
REST API and the inbox's assign action. A refusal changes nothing."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from apps.accounts import access
from apps.accounts.tests.factories import TeamFactory
from apps.accounts.tests.worlds import api_as, build_world, fast_passwords  # noqa: F401
from apps.conversations import services
from apps.conversations.models import AuditLogEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    world = build_world()
    # A team of the organisation the agent is not in.
    world.extra["other_team"] = TeamFactory(organization=world.org, name="Billing")
    return world


def unchanged(world, conversation, *, assignee_id, team_id):
    conversation.refresh_from_db()
    assert (conversation.assignee_id, conversation.team_id) == (assignee_id, team_id)
    assert not AuditLogEntry.objects.filter(conversation=conversation, action="conversation.assigned").exists()


def test_the_rule_in_access(world):
    other, own, foreign = world.extra["other_team"], world.team, world.foreign_team
    assert not access.can_assign(world.agent, world.unassigned, assignee=world.agent, team=other)
    assert not access.can_assign(world.agent, world.mine, assignee=world.agent, team=other)
    assert not access.can_assign(world.agent, world.unassigned, assignee=world.agent, team=foreign)
    assert access.can_assign(world.agent, world.unassigned, assignee=world.agent, team=own)
    for boss in (world.supervisor, world.admin):
        assert access.can_assign(boss, world.unassigned, assignee=world.agent, team=other)
        assert not access.can_assign(boss, world.unassigned, assignee=world.agent, team=foreign)


# --- The service ------------------------------------------------------------------------


def test_service_refuses_an_agent_routing_to_a_team_they_are_not_in(world):
    with pytest.raises(PermissionDenied):
        services.conversation_assign(conversation=world.unassigned, actor=world.agent, assignee=world.agent,
                                     team=world.extra["other_team"], set_team=True)
    unchanged(world, world.unassigned, assignee_id=None, team_id=None)
    with pytest.raises(PermissionDenied):
        services.conversation_assign(conversation=world.mine, actor=world.agent, assignee=world.agent,
                                     team=world.extra["other_team"], set_team=True)
    unchanged(world, world.mine, assignee_id=world.agent.pk, team_id=None)


def test_service_lets_an_agent_route_to_their_own_team(world):
    services.conversation_assign(conversation=world.unassigned, actor=world.agent, assignee=world.agent,
                                 team=world.team, set_team=True)
    world.unassigned.refresh_from_db()
    assert (world.unassigned.assignee_id, world.unassigned.team_id) == (world.agent.pk, world.team.pk)


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_service_lets_supervisors_and_admins_route_to_any_team_of_the_organisation(world, role):
    services.conversation_assign(conversation=world.unassigned, actor=getattr(world, role), assignee=None,
                                 team=world.extra["other_team"], set_team=True)
    world.unassigned.refresh_from_db()
    assert world.unassigned.team_id == world.extra["other_team"].pk


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
def test_service_always_refuses_a_team_of_another_organisation(world, role):
    with pytest.raises((ValidationError, PermissionDenied)):
        services.conversation_assign(conversation=world.unassigned, actor=getattr(world, role),
                                     assignee=world.agent if role == "agent" else None,
                                     team=world.foreign_team, set_team=True)
    unchanged(world, world.unassigned, assignee_id=None, team_id=None)


# --- The REST API ----------------------------------------------------------------------


def test_api_refuses_an_agent_routing_to_a_team_they_are_not_in(world):
    response = api_as(world.agent).post(
        f"/api/v1/conversations/{world.unassigned.pk}/assign/",
        {"assignee_id": world.agent.pk, "team_id": world.extra["other_team"].pk}, format="json",
    )
    assert response.status_code == 403
    unchanged(world, world.unassigned, assignee_id=None, team_id=None)


def test_api_lets_an_agent_route_to_their_own_team(world):
    response = api_as(world.agent).post(
        f"/api/v1/conversations/{world.unassigned.pk}/assign/",
        {"assignee_id": world.agent.pk, "team_id": world.team.pk}, format="json",
    )
    assert response.status_code == 200
    assert (response.json()["assignee_id"], response.json()["team_id"]) == (world.agent.pk, world.team.pk)


def test_api_lets_a_supervisor_route_to_any_team_and_never_to_a_foreign_one(world):
    url = f"/api/v1/conversations/{world.unassigned.pk}/assign/"
    client = api_as(world.supervisor)
    refused = client.post(url, {"assignee_id": None, "team_id": world.foreign_team.pk}, format="json")
    assert refused.status_code == 400
    unchanged(world, world.unassigned, assignee_id=None, team_id=None)
    response = client.post(url, {"assignee_id": None, "team_id": world.extra["other_team"].pk}, format="json")
    assert response.status_code == 200
    assert response.json()["team_id"] == world.extra["other_team"].pk


# --- The inbox's assign action -----------------------------------------------------------


def inbox_assign(user, conversation, data):
    client = Client()
    client.force_login(user)
    return client.post(reverse("inbox:assign", args=[conversation.pk]), data, HTTP_HX_REQUEST="true")


def test_inbox_refuses_an_agent_routing_to_a_team_they_are_not_in(world):
    response = inbox_assign(world.agent, world.unassigned, {"assignee": "me", "team": world.extra["other_team"].pk})
    assert response.status_code == 422
    assert "You may not assign this conversation." in response.content.decode()
    unchanged(world, world.unassigned, assignee_id=None, team_id=None)


def test_inbox_refuses_a_team_of_another_organisation(world):
    response = inbox_assign(world.supervisor, world.unassigned, {"assignee": "", "team": world.foreign_team.pk})
    assert response.status_code == 422
    assert "Team: unknown team." in response.content.decode()
    unchanged(world, world.unassigned, assignee_id=None, team_id=None)


def test_inbox_lets_an_agent_route_to_their_own_team_and_a_supervisor_to_any(world):
    assert inbox_assign(world.agent, world.unassigned, {"assignee": "me", "team": world.team.pk}).status_code == 200
    world.unassigned.refresh_from_db()
    assert (world.unassigned.assignee_id, world.unassigned.team_id) == (world.agent.pk, world.team.pk)
    other = world.extra["other_team"]
    response = inbox_assign(world.supervisor, world.unassigned, {"assignee": world.agent.pk, "team": other.pk})
    assert response.status_code == 200
    world.unassigned.refresh_from_db()
    assert world.unassigned.team_id == other.pk
