"""Who issues API tokens in admin: an organisation's admin for themselves only (a token
of a colleague would let them act as that colleague through the API); platform staff
for anyone. The organisation's admin still lists and revokes every token of the
organisation's users."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken
from apps.accounts.tests.factories import AdminFactory, UserFactory
from apps.accounts.tests.worlds import build_world, fast_passwords  # noqa: F401
from apps.accounts.tokens import key_hash, token_issue

pytestmark = pytest.mark.django_db

ADD = "/admin/accounts/apitoken/add/"
REFUSAL = "An organisation’s admin issues API tokens only for themselves."


@pytest.fixture
def world():
    world = build_world()
    world.extra["other_admin"] = AdminFactory(organization=world.org, username="otheradmin", is_staff=True)
    return world


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def platform_admin():
    return UserFactory(organization=None, is_staff=True, is_superuser=True, username="root")


def shown_keys(response) -> list[str]:
    return [str(m).rsplit(" ", 1)[1] for m in get_messages(response.wsgi_request) if "shown this once" in str(m)]


def api_status(key) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/me/").status_code


@pytest.mark.parametrize("whom", ["other_admin", "supervisor", "agent"])
def test_an_org_admin_cannot_issue_a_token_for_a_colleague(world, whom):
    colleague = world.extra["other_admin"] if whom == "other_admin" else getattr(world, whom)
    response = logged_in(world.admin).post(ADD, {"user": colleague.pk, "name": "impersonate"})
    assert response.status_code == 200  # the form again, with its error
    assert response.context["adminform"].form.errors == {"user": [REFUSAL]}
    assert shown_keys(response) == []
    assert ApiToken.objects.count() == 0


def test_the_org_admins_form_offers_only_themselves(world):
    response = logged_in(world.admin).get(ADD)
    assert response.status_code == 200
    field = response.context["adminform"].form.fields["user"]
    assert list(field.queryset) == [world.admin]
    assert field.initial == world.admin.pk
    assert "only for themselves" in str(field.help_text)


def test_an_org_admin_issues_a_token_for_themselves_shown_once(world):
    client = logged_in(world.admin)
    response = client.post(ADD, {"user": world.admin.pk, "name": "crm"})
    assert response.status_code == 302
    token = ApiToken.objects.get()
    assert (token.user, token.name) == (world.admin, "crm")
    keys = shown_keys(response)
    assert len(keys) == 1
    assert key_hash(keys[0]) == token.key_hash
    assert api_status(keys[0]) == 200
    assert keys[0] in client.get("/admin/accounts/apitoken/").content.decode()  # the message, this once
    for page in ("/admin/accounts/apitoken/", f"/admin/accounts/apitoken/{token.pk}/change/"):
        body = client.get(page).content.decode()
        assert token.prefix in body
        assert keys[0] not in body


def test_platform_staff_issue_a_token_for_anyone(world):
    client = logged_in(platform_admin())
    field = client.get(ADD).context["adminform"].form.fields["user"]
    assert {world.admin, world.extra["other_admin"], world.agent, world.foreign_user} <= set(field.queryset)
    assert "platform staff issue tokens for anyone" in str(field.help_text)
    response = client.post(ADD, {"user": world.agent.pk, "name": "crm"})
    assert response.status_code == 302
    token = ApiToken.objects.get()
    assert (token.user, token.name) == (world.agent, "crm")
    assert api_status(shown_keys(response)[0]) == 200


def test_an_org_admin_still_lists_and_revokes_every_token_of_the_organisation(world):
    theirs, their_key = token_issue(user=world.extra["other_admin"], name="colleague-token")
    agents, agent_key = token_issue(user=world.agent, name="agent-token")
    client = logged_in(world.admin)
    body = client.get("/admin/accounts/apitoken/").content.decode()
    assert "colleague-token" in body and "agent-token" in body
    response = client.post("/admin/accounts/apitoken/",
                           {"action": "revoke", "_selected_action": [theirs.pk, agents.pk]})
    assert response.status_code == 302
    assert (api_status(their_key), api_status(agent_key)) == (403, 403)
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 0
