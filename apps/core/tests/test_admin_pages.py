"""Every admin page opens, under the theme, for the platform's superuser and for an
organisation's admin: the index, each section's index, every registered model's list,
add and change pages, and the product's own pages (number registration, business
profile, editing a template at Meta, template sync). Any status but the expected one
fails, with the page named.

The test walks `admin.site._registry`: a model admin added later is visited too, and a
model the world below holds no row of fails the test until the world grows with it.
The business profile page reads from the simulator over real HTTP."""

from __future__ import annotations

import re

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client

from apps.accounts.tests.factories import AdminFactory, UserFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.core import site_theme
from apps.core.tests.test_admin_scoping import FOREIGN, HOME, as_request, tenant, url
from apps.simulator.models import (
    SimulatedMedia,
    SimulatedMessage,
    SimulatedRequest,
    SimulatedTemplate,
    SimulatorConfig,
)
from apps.simulator.testing import simulator  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def platform_rows() -> dict:
    """A row of every registered model that is no organisation's data."""
    from admin_interface.models import Theme

    visitor = {"user_agent": "Firefox", "http_accept": "text/html", "path_info": "/accounts/login/",
               "ip_address": "127.0.0.1", "username": "someone"}
    return {
        "admin_interface.Theme": Theme.objects.get(name=site_theme.THEME),
        "auth.Group": Group.objects.create(name="Night shift"),
        "axes.AccessAttempt": AccessAttempt.objects.create(**visitor, get_data="", post_data="",
                                                           failures_since_start=1),
        "axes.AccessLog": AccessLog.objects.create(**visitor),
        "axes.AccessFailureLog": AccessFailureLog.objects.create(**visitor),
        "simulator.SimulatorConfig": SimulatorConfig.objects.get(pk=1),
        "simulator.SimulatedRequest": SimulatedRequest.objects.create(method="GET", path="/v23.0/me",
                                                                      status_code=200),
        "simulator.SimulatedMessage": SimulatedMessage.objects.create(
            phone_number_id="106540352242922", customer="5511987654321", direction="in",
            wamid="wamid.pages.1", type="text", payload={"text": {"body": "hello"}}),
        "simulator.SimulatedMedia": SimulatedMedia.objects.create(
            media_id="777", phone_number_id="106540352242922", mime_type="image/jpeg", sha256="0" * 64,
            content=b"\xff\xd8"),
        "simulator.SimulatedTemplate": SimulatedTemplate.objects.create(
            meta_id="888", waba_id="102290129340398", name="order_update", language="en", category="UTILITY"),
    }


@pytest.fixture
def world(simulator):  # noqa: F811
    home, foreign = tenant(HOME), tenant(FOREIGN)
    rows = {**platform_rows(), **home}
    superuser = UserFactory(organization=None, username="root", is_staff=True, is_superuser=True)
    org_admin = AdminFactory(organization=home["accounts.Organization"], username=f"{HOME}_admin", is_staff=True)
    return rows, foreign, superuser, org_admin


def client_of(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def custom_pages(rows: dict) -> dict[str, int]:
    """The product's own admin pages, with the status a GET answers for someone who may
    change the row."""
    number = rows["whatsapp.WhatsAppNumber"]
    template = rows["message_templates.MessageTemplate"]
    return {
        f"/admin/whatsapp/whatsappnumber/{number.pk}/registration/": 200,
        f"/admin/whatsapp/whatsappnumber/{number.pk}/profile/": 200,
        f"/admin/message_templates/messagetemplate/{template.pk}/edit-at-meta/": 200,
        # The sync runs on POST; a GET goes back to the list.
        "/admin/message_templates/messagetemplate/sync/": 302,
    }


def visit(client, expected: dict[str, int]) -> list[str]:
    wrong = []
    for page, status in expected.items():
        got = client.get(page).status_code
        if got != status:
            wrong.append(f"{page}: {got}, expected {status}")
    return wrong


def model_pages(user, rows: dict, opened) -> dict[str, int]:
    request = as_request(user)
    expected: dict[str, int] = {}
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        if model not in opened:
            expected[url(model, "")] = 403
            expected[url(model, "add")] = 403
            continue
        assert label in rows, f"no row of {label} to open its change page"
        expected[url(model, "")] = 200
        expected[url(model, "add")] = 200 if model_admin.has_add_permission(request) else 403
        expected[url(model, "change", rows[label].pk)] = 200
        expected[url(model, "history", rows[label].pk)] = 200
        expected[f"/admin/{model._meta.app_label}/"] = 200
    return expected


def test_every_admin_page_opens_for_the_platform_superuser(world):
    rows, _foreign, superuser, _org_admin = world
    opened = set(admin.site._registry)
    expected = {"/admin/": 200, **model_pages(superuser, rows, opened), **custom_pages(rows)}
    assert len(expected) > 150
    assert visit(client_of(superuser), expected) == []


def test_every_admin_page_of_the_organisation_opens_for_its_admin(world):
    rows, foreign, _superuser, org_admin = world
    request = as_request(org_admin)
    opened = {model for model, model_admin in admin.site._registry.items()
              if model_admin.has_module_permission(request) and model_admin.has_view_permission(request)}
    expected = {"/admin/": 200, **model_pages(org_admin, rows, opened), **custom_pages(rows)}
    # Another organisation's rows are not found, on every page that names one.
    for model in opened:
        expected[url(model, "change", foreign[model._meta.label].pk)] = 404
    expected.update({page: 404 for page, status in custom_pages(foreign).items() if status == 200})
    assert len(opened) >= 20
    assert visit(client_of(org_admin), expected) == []


def test_the_pages_wear_the_products_theme(world):
    rows, _foreign, superuser, _org_admin = world
    page = client_of(superuser).get(url(type(rows["conversations.Contact"]), "change",
                                        rows["conversations.Contact"].pk)).content.decode()
    assert re.search(r'<body class="\s*admin-interface\s', page)
    assert "--admin-interface-header-background-color: #064E3B" in page
    # No iframe modal: the policy forbids framing our pages.
    assert "related-modal.js" not in page
    # A phone may zoom: the theme's viewport that forbade it is not there.
    assert "user-scalable=no" not in page and 'name="viewport" content="width=device-width, initial-scale=1.0"' in page
