"""Django admin changes users and teams through accounts.services, with the services'
own refusals: asked before anything is saved, they change nothing."""

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from apps.accounts.models import Team, User
from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.worlds import build_world, fast_passwords  # noqa: F401
from apps.live.tests.helpers import team_form, user_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


@pytest.fixture
def signals(monkeypatch):
    """The users told of a change of their rights, per call."""
    from apps.accounts import services

    told = []
    real = services.user_access_changed

    def spy(*, user_ids, credentials_changed=False):
        told.append(sorted(user_ids))
        real(user_ids=user_ids, credentials_changed=credentials_changed)

    monkeypatch.setattr(services, "user_access_changed", spy)
    return told


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def sessions_of(user) -> list[str]:
    return [s.session_key for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)]


@pytest.mark.parametrize("change", [{"role": "agent"}, {"is_active": None}])
def test_an_admin_cannot_demote_or_deactivate_themselves_in_admin(world, change, signals):
    client = logged_in(world.admin)
    response = client.post(f"/admin/accounts/user/{world.admin.pk}/change/", user_form(world.admin, **change))
    assert response.status_code == 200
    assert "You cannot deactivate or demote yourself; another admin can." in response.content.decode()
    world.admin.refresh_from_db()
    assert (world.admin.role, world.admin.is_active) == ("admin", True)
    assert sessions_of(world.admin) != []
    assert signals == []


def test_deactivating_in_admin_ends_the_users_sessions(world, signals):
    agent_browser = logged_in(world.agent)
    response = logged_in(world.admin).post(f"/admin/accounts/user/{world.agent.pk}/change/",
                                           user_form(world.agent, is_active=None))
    assert response.status_code == 302
    world.agent.refresh_from_db()
    assert world.agent.is_active is False
    assert sessions_of(world.agent) == []
    assert agent_browser.get("/api/v1/me/").status_code == 403
    assert signals == [[world.agent.pk]]


def test_a_change_of_no_right_tells_nobody(world, signals):
    response = logged_in(world.admin).post(f"/admin/accounts/user/{world.agent.pk}/change/",
                                           user_form(world.agent, display_name="Agent Smith"))
    assert response.status_code == 302
    world.agent.refresh_from_db()
    assert world.agent.display_name == "Agent Smith"
    assert signals == []


def test_a_platform_admin_cannot_put_another_organisations_user_or_number_in_a_team(world, signals):
    root = UserFactory(organization=None, is_staff=True, is_superuser=True, username="root")
    signals.clear()  # the factory set root's password
    foreign_number = world.foreign.number
    for change in ({"members": [world.agent.pk, world.foreign_user.pk]}, {"numbers": [foreign_number.pk]}):
        response = logged_in(root).post(f"/admin/accounts/team/{world.team.pk}/change/",
                                        team_form(world.team, **change))
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert errors == ({"members": ["A team's members belong to its organisation."]} if "members" in change
                          else {"numbers": ["A team's numbers belong to its organisation."]})
    assert set(world.team.members.all()) == {world.agent, world.colleague}
    assert list(world.team.numbers.all()) == [world.number]
    assert signals == []


def test_deleting_users_and_teams_in_admin_tells_their_sockets(world, signals):
    client = logged_in(world.admin)
    response = client.post("/admin/accounts/team/", {"action": "delete_selected", "_selected_action": [world.team.pk],
                                                     "post": "yes"})
    assert response.status_code == 302
    assert not Team.objects.filter(pk=world.team.pk).exists()
    assert signals == [sorted([world.agent.pk, world.colleague.pk])]
    response = client.post(f"/admin/accounts/user/{world.colleague.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=world.colleague.pk).exists()
    assert signals[1:] == [[world.colleague.pk]]
