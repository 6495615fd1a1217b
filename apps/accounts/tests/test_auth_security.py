"""Logins are throttled, sessions end with a password change, passwords are
validated, cookies are secure in production, CSRF guards session posts."""

import importlib.util
import sys

import pytest
from django.conf import settings as django_settings
from django.test import Client

from apps.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401

pytestmark = pytest.mark.django_db


def login(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR="10.0.0.7")


def test_sixth_wrong_password_locks_and_then_the_right_one_is_refused_too():
    user = UserFactory()
    client = Client()
    for _ in range(4):
        response = login(client, user.username, "wrong-password")
        assert response.status_code == 200  # the form again, with its error
        assert "_auth_user_id" not in client.session
    # The fifth failure reaches AXES_FAILURE_LIMIT: from then on the account is locked.
    assert login(client, user.username, "wrong-password").status_code == 429
    assert login(client, user.username, "wrong-password").status_code == 429
    refused = login(client, user.username, DEFAULT_PASSWORD)
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session


def test_lockout_holds_a_username_at_an_address_not_the_address_for_everyone():
    users = [UserFactory() for _ in range(6)]
    client = Client()
    for user in users[:5]:
        assert login(client, user.username, "wrong-password").status_code == 200
    # A sixth account from the same address (a shared office, or the proxy) still logs in.
    assert login(client, users[5].username, DEFAULT_PASSWORD).status_code == 302


def test_right_password_logs_in():
    user = UserFactory()
    client = Client()
    response = login(client, user.username, DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_a_password_change_ends_other_sessions():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    assert client.get("/api/v1/me/").status_code == 200
    user.set_password("a-brand-new-passphrase-42")
    user.save()
    response = client.get("/api/v1/me/")
    assert response.status_code == 403
    assert user.username not in response.content.decode()


def _load_settings(monkeypatch, **env):
    # DATABASE_URL / REDIS_URL stay the tests' own: without them the settings would start
    # the embedded servers of the default VAR_DIR.
    for name in ("DEBUG", "SECRET_KEY", "FIELD_ENCRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("settings_under_test", django_settings.BASE_DIR / "config" / "settings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules.pop("settings_under_test", None)
    return module


def test_production_cookies_are_secure(monkeypatch):
    prod = _load_settings(
        monkeypatch, SECRET_KEY="x" * 50, FIELD_ENCRYPTION_KEY="3q2-7wFXH1dMVrB6VhJ3o0gkX7uhI5XqzFdGJ0cBf8E="
    )
    assert prod.DEBUG is False
    assert (prod.SESSION_COOKIE_SECURE, prod.CSRF_COOKIE_SECURE, prod.SESSION_COOKIE_HTTPONLY) == (True, True, True)


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        _load_settings(monkeypatch, DEBUG="false")


def test_embedded_defaults_are_debug_with_plain_cookies(monkeypatch):
    dev = _load_settings(monkeypatch)
    assert dev.DEBUG is True
    assert (dev.SESSION_COOKIE_SECURE, dev.CSRF_COOKIE_SECURE) == (False, False)


def test_login_form_requires_csrf():
    user = UserFactory()
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": user.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
