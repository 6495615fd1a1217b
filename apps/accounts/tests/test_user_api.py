"""PATCH /api/v1/users/<id>/: an organisation's admins change a colleague's role,
active state and teams through the same services as admin; deactivating ends the
user's sessions and tokens stop working."""

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from apps.accounts.models import User
from apps.accounts.tests.factories import TeamFactory
from apps.accounts.tests.worlds import api_as, build_world, fast_passwords  # noqa: F401
from apps.accounts.tokens import token_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


def sessions_of(user) -> list[str]:
    return [s.session_key for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)]


def snapshot(user):
    user = User.objects.get(pk=user.pk)
    return user.role, user.is_active, sorted(user.teams.values_list("pk", flat=True))


def test_an_admin_deactivates_a_colleague_whose_sessions_and_tokens_end(world):
    browser = Client()
    browser.force_login(world.agent)
    _, key = token_issue(user=world.agent, name="crm")
    assert sessions_of(world.agent) != []
    response = api_as(world.admin).patch(f"/api/v1/users/{world.agent.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert snapshot(world.agent)[1] is False
    assert sessions_of(world.agent) == []
    assert browser.get("/api/v1/me/").status_code == 403
    token_client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert token_client.get("/api/v1/me/").status_code == 403


def test_an_admin_changes_role_and_teams(world):
    other_team = TeamFactory(organization=world.org)
    response = api_as(world.admin).patch(
        f"/api/v1/users/{world.agent.pk}/", {"role": "supervisor", "team_ids": [other_team.pk]}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["role"], body["team_ids"]) == ("supervisor", [other_team.pk])
    assert snapshot(world.agent) == ("supervisor", True, [other_team.pk])


@pytest.mark.parametrize("payload, field", [
    ({"role": "emperor"}, "role"),
    ({"is_active": "perhaps"}, "is_active"),
    ({"team_ids": ["x"]}, "team_ids"),
])
def test_bad_input_names_the_field_and_changes_nothing(world, payload, field):
    before = snapshot(world.agent)
    response = api_as(world.admin).patch(f"/api/v1/users/{world.agent.pk}/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert snapshot(world.agent) == before


def test_another_organisations_team_is_refused(world):
    before = snapshot(world.agent)
    response = api_as(world.admin).patch(
        f"/api/v1/users/{world.agent.pk}/", {"team_ids": [world.foreign_team.pk]}, format="json")
    assert response.status_code == 400
    assert "team_ids" in response.json()
    assert snapshot(world.agent) == before


def test_an_admin_cannot_lock_themselves_out(world):
    before = snapshot(world.admin)
    for payload in ({"is_active": False}, {"role": "agent"}):
        response = api_as(world.admin).patch(f"/api/v1/users/{world.admin.pk}/", payload, format="json")
        assert response.status_code == 400
    assert snapshot(world.admin) == before


@pytest.mark.parametrize("who", ["supervisor", "agent"])
def test_only_admins_change_users(world, who):
    before = snapshot(world.colleague)
    response = api_as(getattr(world, who)).patch(
        f"/api/v1/users/{world.colleague.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 403
    assert snapshot(world.colleague) == before


def test_another_organisations_user_is_not_found(world):
    before = snapshot(world.foreign_user)
    response = api_as(world.admin).patch(
        f"/api/v1/users/{world.foreign_user.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 404
    assert snapshot(world.foreign_user) == before
