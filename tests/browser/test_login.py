"""A person signs in, reaches the inbox and Django admin, and signs out."""

import pytest

from apps.accounts.tests.factories import DEFAULT_PASSWORD, AdminFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in(page, base, username, password):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_admin_signs_in_reaches_admin_and_signs_out(page, live_server):
    admin = AdminFactory(is_staff=True)
    sign_in(page, live_server.url, admin.username, DEFAULT_PASSWORD)
    page.wait_for_url(f"{live_server.url}/inbox/")
    assert page.get_by_role("heading", name="Choose a conversation").is_visible()
    page.get_by_role("link", name="Administration").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    assert "Site administration" in page.content()
    page.goto(f"{live_server.url}/")
    page.wait_for_url(f"{live_server.url}/inbox/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")


def test_wrong_password_is_refused_with_a_clear_message(page, live_server):
    agent = UserFactory()
    sign_in(page, live_server.url, agent.username, "not-the-password")
    assert page.get_by_role("alert").is_visible()
    assert page.url.startswith(f"{live_server.url}/accounts/login/")
