"""The account alerts strip (one alert of each severity, each with its icon and its
Dismiss button) and a blocked customer's flag on a message, on a desktop and a phone
(390 px wide): axe finds no serious or critical violation, nothing overflows the
screen's width, dismissing an alert takes it away. Screenshots of each under
tmp/browser/screens/."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.tests.factories import AdminFactory
from apps.conversations.models import ContactBlock
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.tests.factories import MessageFactory
from apps.whatsapp.models import AccountAlert
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .test_accessibility import SCREENS, TIMEOUT, VIEWPORTS, audit, report, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

SEVERITIES = {
    AccountAlert.Severity.CRITICAL: "The WhatsApp Business account was disabled for a policy violation.",
    AccountAlert.Severity.WARNING: "The number's messaging limit was lowered to 250 customers a day.",
    AccountAlert.Severity.INFO: "The display name Acme Support was approved.",
}


def fits(page, selector: str) -> bool:
    """Whether every element matching `selector` lies within the viewport's width."""
    return page.eval_on_selector_all(
        selector, "els => els.every(e => e.getBoundingClientRect().right <= window.innerWidth + 0.5)")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_alerts_strip_and_the_blocked_flag_look_finished(inbox_servers, new_page, viewport):
    base = inbox_servers.url
    number = WhatsAppNumberFactory()
    org = number.organization
    admin = AdminFactory(organization=org, username="alice")
    for index, (severity, summary) in enumerate(SEVERITIES.items()):
        AccountAlert.objects.create(organization=org, number=number if index else None, field="account_update",
                                    severity=severity, summary=summary, key=f"k{index}")
    conversation = ConversationFactory(organization=org, number=number, assignee=admin, contact__name="Rui")
    MessageFactory(conversation=conversation, text="Before the block",
                   timestamp=timezone.now() - timedelta(minutes=5))
    ContactBlock.objects.create(organization=org, contact=conversation.contact, number=number,
                                created_at=timezone.now() - timedelta(minutes=2))
    MessageFactory(conversation=conversation, text="Why can't I reach you?")
    found: dict = {}

    page = new_page(viewport=VIEWPORTS[viewport])
    signed_in(page, base, admin)
    page.goto(f"{base}/inbox/")
    strip = page.locator(".account-alerts")
    expect(strip).to_be_visible(timeout=TIMEOUT)
    expect(strip.locator(".account-alert")).to_have_count(3)
    for severity in SEVERITIES:
        alert = strip.locator(f".account-alert.severity-{severity}")
        expect(alert.locator(".account-alert-icon svg")).to_be_visible()
        expect(alert.get_by_role("button", name="Dismiss")).to_be_visible()
    assert fits(page, ".account-alert, .account-alert-dismiss button")
    audit(page, "account-alerts", viewport, found)
    strip.screenshot(path=str(SCREENS / f"account-alerts-strip-{viewport}.png"))

    page.goto(f"{base}/inbox/c/{conversation.pk}/")
    flag = page.locator("[data-after-block]")
    expect(flag).to_have_count(1, timeout=TIMEOUT)
    expect(flag).to_be_visible()
    expect(flag.locator("svg")).to_be_visible()
    assert fits(page, "[data-after-block]")
    audit(page, "blocked-flag", viewport, found)
    flag.locator("xpath=ancestor::li[1]").screenshot(path=str(SCREENS / f"blocked-flag-{viewport}.png"))

    strip.locator(".account-alert.severity-info").get_by_role("button", name="Dismiss").click()
    expect(strip.locator(".account-alert")).to_have_count(2, timeout=TIMEOUT)
    assert AccountAlert.objects.filter(dismissed_at__isnull=False).count() == 1
    assert not found, "axe found serious or critical violations:\n" + report(found)
