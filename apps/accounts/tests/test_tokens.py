"""API tokens: stored hashed, shown once, revoked by any password change, listed and
revoked by admins of the same organisation only; DRF's clear-text tokens are gone."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.messages import get_messages
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.accounts import services
from apps.accounts.models import ApiToken, User
from apps.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.accounts.tests.worlds import build_world, fast_passwords  # noqa: F401
from apps.accounts.tokens import key_hash, token_issue

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-horse-battery-staple"


@pytest.fixture
def world():
    return build_world()


def api_with_key(key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def status_with(key) -> int:
    """403 for a refused key: DRF answers with the first authentication class's
    challenge, and the session's has none."""
    return api_with_key(key).get("/api/v1/me/").status_code


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_issued_token_authenticates_and_only_its_hash_is_stored(world):
    token, key = token_issue(user=world.agent, name="crm")
    assert status_with(key) == 200
    row = ApiToken.objects.values().get(pk=token.pk)
    assert key not in [str(value) for value in row.values()]
    assert row["key_hash"] == key_hash(key)
    assert row["prefix"] == key[:ApiToken.PREFIX_LENGTH]
    assert row["last_used_at"] is not None
    assert len(key) >= 40


@pytest.mark.parametrize("key", ["", "x", "not-a-real-token-at-all", "00000000" + "a" * 43])
def test_a_wrong_key_is_refused(world, key):
    _, real = token_issue(user=world.agent, name="crm")
    assert status_with(key) == 403
    assert status_with(real[:ApiToken.PREFIX_LENGTH] + "z" * (len(real) - ApiToken.PREFIX_LENGTH)) == 403


def test_a_drf_clear_text_token_no_longer_authenticates(world):
    clear = Token.objects.create(user=world.agent)
    assert status_with(clear.key) == 403


def test_revoked_tokens_and_inactive_users_are_refused(world):
    token, key = token_issue(user=world.agent, name="crm")
    _, other_key = token_issue(user=world.colleague, name="crm")
    token.revoked_at = token.created_at
    token.save()
    assert status_with(key) == 403
    User.objects.filter(pk=world.colleague.pk).update(is_active=False)
    assert status_with(other_key) == 403


def _change_password(user, how):
    user = User.objects.get(pk=user.pk)
    if how == "service":
        services.user_set_password(user=user, password=NEW_PASSWORD)
    elif how == "set_password_and_save":
        user.set_password(NEW_PASSWORD)
        user.save()
    elif how == "admin_form":
        from django.contrib.auth.forms import AdminPasswordChangeForm

        form = AdminPasswordChangeForm(user, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        assert form.is_valid(), form.errors
        form.save()
    elif how == "own_password_view":  # Django admin's "change password" for oneself
        client = admin_client(user)
        response = client.post("/admin/password_change/", {
            "old_password": DEFAULT_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD,
        })
        assert response.status_code == 302
    elif how == "unusable":
        user.set_unusable_password()
        user.save()


@pytest.mark.parametrize("how", ["service", "set_password_and_save", "admin_form", "own_password_view", "unusable"])
def test_a_password_change_revokes_the_users_tokens_and_no_others(world, how):
    _, key = token_issue(user=world.admin, name="crm")
    _, second = token_issue(user=world.admin, name="erp")
    _, colleague_key = token_issue(user=world.supervisor, name="crm")
    _change_password(world.admin, how)
    assert status_with(key) == 403
    assert status_with(second) == 403
    assert status_with(colleague_key) == 200
    assert ApiToken.objects.filter(user=world.admin, revoked_at__isnull=True).count() == 0


def test_a_password_hash_upgrade_at_login_revokes_nothing(world, settings):
    _, key = token_issue(user=world.agent, name="crm")
    # The stored hash is MD5's; with a newer hasher preferred, a right password is
    # re-hashed on check (Django's upgrade path): the same password, not a change.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher", "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    user = User.objects.get(pk=world.agent.pk)
    assert user.check_password(DEFAULT_PASSWORD)
    assert User.objects.get(pk=user.pk).password.startswith("pbkdf2_sha256$")
    assert status_with(key) == 200


def test_migrated_clear_tokens_keep_their_key_and_leave_no_clear_row(world):
    clear = Token.objects.create(user=world.agent)
    migration = importlib.import_module("apps.accounts.migrations.0004_api_tokens_from_clear_tokens")
    migration.hash_clear_tokens(django_apps, None)
    assert Token.objects.count() == 0
    token = ApiToken.objects.get(user=world.agent)
    assert token.key_hash == key_hash(clear.key)
    assert token.created_at == clear.created
    assert status_with(clear.key) == 200


def test_the_schema_still_names_the_token_scheme(world):
    response = admin_client(world.admin).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schemes = response.json()["components"]["securitySchemes"]
    assert schemes["tokenAuth"] == {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }


# --- admin ---------------------------------------------------------------------------
def test_an_org_admin_issues_a_token_shown_once(world):
    client = admin_client(world.admin)
    # For themselves only: test_admin_tokens.py has who issues for whom.
    response = client.post("/admin/accounts/apitoken/add/", {"user": world.admin.pk, "name": "crm"})
    assert response.status_code == 302
    token = ApiToken.objects.get()
    assert (token.user, token.name) == (world.admin, "crm")
    shown = [str(m) for m in get_messages(response.wsgi_request) if "shown this once" in str(m)]
    assert len(shown) == 1
    key = shown[0].rsplit(" ", 1)[1]
    assert key_hash(key) == token.key_hash
    assert status_with(key) == 200
    assert key in client.get("/admin/accounts/apitoken/").content.decode()  # the message, this once
    for page in ("/admin/accounts/apitoken/", f"/admin/accounts/apitoken/{token.pk}/change/"):
        body = client.get(page).content.decode()
        assert token.prefix in body
        assert key not in body


def test_an_org_admin_cannot_issue_a_token_for_another_organisations_user(world):
    response = admin_client(world.admin).post(
        "/admin/accounts/apitoken/add/", {"user": world.foreign_user.pk, "name": "crm"})
    assert response.status_code == 200  # the form again, with its error
    assert ApiToken.objects.count() == 0


def test_an_org_admin_lists_and_revokes_only_their_organisations_tokens(world):
    mine, mine_key = token_issue(user=world.agent, name="home-token")
    foreign, foreign_key = token_issue(user=world.foreign_user, name="foreign-token")
    client = admin_client(world.admin)
    body = client.get("/admin/accounts/apitoken/").content.decode()
    assert "home-token" in body and "foreign-token" not in body
    assert client.get(f"/admin/accounts/apitoken/{foreign.pk}/change/").status_code == 404
    response = client.post("/admin/accounts/apitoken/", {
        "action": "revoke", "_selected_action": [mine.pk, foreign.pk],
    })
    assert response.status_code == 302
    assert status_with(mine_key) == 403
    assert status_with(foreign_key) == 200
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


def test_a_platform_admin_lists_every_token(world):
    token_issue(user=world.agent, name="home-token")
    token_issue(user=world.foreign_user, name="foreign-token")
    root = UserFactory(organization=None, is_staff=True, is_superuser=True, username="root")
    body = admin_client(root).get("/admin/accounts/apitoken/").content.decode()
    assert "home-token" in body and "foreign-token" in body


def test_agents_do_not_reach_the_token_admin(world):
    token_issue(user=world.agent, name="home-token")
    client = admin_client(world.agent)
    assert client.get("/admin/accounts/apitoken/").status_code == 302  # to the admin login
    assert client.post("/admin/accounts/apitoken/add/", {"user": world.agent.pk, "name": "x"}).status_code == 302
    assert ApiToken.objects.count() == 1


def test_the_command_issues_a_token_and_prints_its_key_once(world):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out, err = StringIO(), StringIO()
    call_command("create_api_token", world.admin.username, "--name", "erp", stdout=out, stderr=err)
    key = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.key_hash) == (world.admin, "erp", key_hash(key))
    assert key not in err.getvalue()
    assert status_with(key) == 200
    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody", "--name", "erp", stdout=out, stderr=err)
    with pytest.raises(CommandError):
        call_command("create_api_token", world.admin.username, "--name", "  ", stdout=out, stderr=err)
    assert ApiToken.objects.count() == 1
