"""Under the Content-Security-Policy the pages still work and the browser reports no
violation: the login page (with its language picker), the inbox, Django admin and the
API docs (Swagger UI from our own static files)."""

import pytest

from apps.accounts.tests.factories import DEFAULT_PASSWORD, AdminFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_pages_work_under_the_policy_without_a_violation(page, live_server):
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"{live_server.url}/accounts/login/")
    # The language picker submits itself (static/inbox/language.js, no inline handler).
    page.select_option("#language-select", "pt-br")
    page.wait_for_selector("html[lang='pt-br']")
    page.select_option("#language-select", "en")
    page.wait_for_selector("html[lang='en']")
    admin = AdminFactory(is_staff=True)
    page.get_by_label("Username").fill(admin.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/inbox/")
    page.goto(f"{live_server.url}/admin/")
    assert "Site administration" in page.content()
    external = []
    page.on("request", lambda request: external.append(request.url)
            if not request.url.startswith(live_server.url) else None)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "WhatsApp Inbox API" in page.inner_text(".swagger-ui .info .title")
    assert external == []
    assert violations == []
