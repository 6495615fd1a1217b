"""Django admin under its theme in headless Chromium: axe-core finds no serious or
critical violation on the admin's screens (index, a list, a change form, the
notification rule's form with its parameter selects), for the platform superuser and an
organisation's admin, on a desktop and a phone, and the browser reports no
Content-Security-Policy violation. An organisation's admin maps a notification rule's
parameters by choosing fields, and the rule stores them as JSON.

Screenshots of each screen are saved under tmp/browser/screens/ (kept by CI)."""

import pytest
from playwright.sync_api import expect

from apps.accounts.tests.factories import AdminFactory, UserFactory
from apps.conversations.tests.factories import ContactFactory
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.notifications.models import Notification, NotificationRule
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .test_accessibility import TIMEOUT, VIEWPORTS, audit, report, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

COMPONENTS = [
    {"type": "BODY", "text": "Hi {{1}}, your order {{2}} is {{3}}.",
     "example": {"body_text": [["Maria", "A-100", "on its way"]]}},
]


@pytest.fixture
def admin_world(db):
    number = WhatsAppNumberFactory()
    org = number.organization
    template = MessageTemplateFactory(organization=org, waba_id=number.waba_id, name="order_status",
                                      components=COMPONENTS)
    ContactFactory(organization=org, name="Maria Silva")
    Notification.objects.create(organization=org, event_type="order_shipped", idempotency_key="k1",
                                phone="+5511999990000", payload={"order_id": "A-1", "status": "shipped"})
    return {
        "number": number,
        "template": template,
        "org_admin": AdminFactory(organization=org, username="alice", is_staff=True),
        "superuser": UserFactory(organization=None, username="root", is_staff=True, is_superuser=True),
    }


def watch_policy(page) -> list:
    violations: list = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    return violations


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_admin_screens_pass_axe_under_the_theme(live_server, new_page, admin_world, viewport):
    base, found, violations = live_server.url, {}, []
    for who in ("superuser", "org_admin"):
        page = new_page(viewport=VIEWPORTS[viewport])
        violations += watch_policy(page)
        signed_in(page, base, admin_world[who])
        screens = {
            "index": "/admin/",
            "contacts": "/admin/conversations/contact/",
            "organization": f"/admin/accounts/organization/{admin_world['number'].organization_id}/change/",
            "notification-rule": "/admin/notifications/notificationrule/add/",
        }
        for screen, path in screens.items():
            page.goto(f"{base}{path}")
            expect(page.locator("#content")).to_be_visible(timeout=TIMEOUT)
            if screen == "notification-rule":
                page.locator("#id_template").select_option(str(admin_world["template"].pk))
                expect(page.get_by_label("Body {{1}}", exact=True)).to_be_visible(timeout=TIMEOUT)
            audit(page, f"admin-{screen}-{who}", viewport, found)
    assert not found, "axe found serious or critical violations:\n" + report(found)
    assert violations == []


def test_an_admin_maps_a_rules_parameters_by_choosing_fields(live_server, new_page, admin_world):
    page = new_page()
    violations = watch_policy(page)
    signed_in(page, live_server.url, admin_world["org_admin"])
    page.goto(f"{live_server.url}/admin/notifications/notificationrule/add/")
    page.get_by_label("Event type").fill("order_shipped")
    page.get_by_label("Event type").dispatch_event("change")
    page.locator("#id_number").select_option(str(admin_world["number"].pk))
    # The JSON box gives way to one select per parameter of the chosen template.
    expect(page.get_by_text("Choose a template: its parameters are mapped here.")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#id_parameter_mapping")).to_be_hidden()
    page.locator("#id_template").select_option(str(admin_world["template"].pk))
    page.get_by_label("Body {{1}}", exact=True).select_option("contact.name")
    # The event's known fields are offered: the ones its notifications came with.
    page.get_by_label("Body {{2}}", exact=True).select_option("event.order_id")
    page.get_by_label("Body {{3}}", exact=True).select_option("text:")
    page.get_by_label("Fixed text for Body {{3}}").fill("on its way")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully", timeout=TIMEOUT)
    rule = NotificationRule.objects.get(event_type="order_shipped")
    assert rule.parameter_mapping == {"body.1": "contact.name", "body.2": "event.order_id",
                                      "body.3": "text:on its way"}

    # Opened again, the selects show what is stored; an unknown contact field typed
    # into the JSON earlier is kept and refused with the reason.
    NotificationRule.objects.filter(pk=rule.pk).update(parameter_mapping={"body.1": "contact.shoe_size"})
    page.goto(f"{live_server.url}/admin/notifications/notificationrule/{rule.pk}/change/")
    expect(page.get_by_label("Body {{1}}", exact=True)).to_have_value("contact.shoe_size", timeout=TIMEOUT)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".errorlist")).to_contain_text("contact.shoe_size is not a field of the contact")
    page.get_by_label("Body {{1}}", exact=True).select_option("contact.phone")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully", timeout=TIMEOUT)
    rule.refresh_from_db()
    assert rule.parameter_mapping == {"body.1": "contact.phone"}
    assert violations == []
