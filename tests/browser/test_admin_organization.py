"""Django admin in headless Chromium, as an organisation's admin: from the index to
their organisation's page, whose time zone, keywords and media retention they change
and save (the slug is shown, not editable)."""

import pytest
from playwright.sync_api import expect

from apps.accounts.models import Organization
from apps.accounts.tests.factories import DEFAULT_PASSWORD, AdminFactory, OrganizationFactory

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_org_admin_changes_time_zone_keywords_and_retention(page, live_server):
    org = OrganizationFactory(name="Padaria Central", slug="padaria")
    OrganizationFactory(name="Another Company")
    admin = AdminFactory(organization=org, is_staff=True)
    sign_in(page, live_server.url, admin.username, DEFAULT_PASSWORD)
    page.wait_for_url(f"{live_server.url}/inbox/")
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Organizations").click()
    expect(page.get_by_role("link", name="Another Company")).to_have_count(0)
    page.get_by_role("link", name="Padaria Central").click()
    expect(page.get_by_role("heading", name="Change organization")).to_be_visible()
    expect(page.locator(".field-slug")).to_contain_text("padaria")
    page.get_by_label("Time zone").fill("America/Sao_Paulo")
    page.get_by_label("Opt-out keywords").fill('["PARAR", "STOP"]')
    page.get_by_label("Media retention (days)").fill("90")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    org.refresh_from_db()
    assert (org.timezone, org.opt_out_keywords, org.media_retention_days, org.slug) == (
        "America/Sao_Paulo", ["PARAR", "STOP"], 90, "padaria")
    assert Organization.objects.get(name="Another Company").timezone == "UTC"
