"""The inbox on a phone (390×844, touch): the top bar and the composer's tools take one
row each, the messages at least 65% of the screen, and no "Shortcuts" button (there is
no keyboard); on a desktop the button stays."""

import pytest
from playwright.sync_api import expect

from apps.accounts.tests.factories import (
    DEFAULT_PASSWORD,
    SupervisorFactory,
    TeamFactory,
    UserFactory,
)
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms

# The distinct rows (rounded top offsets) the visible children of an element sit on.
ROWS = """(el) => new Set(Array.from(el.children)
  .filter((c) => c.getClientRects().length && getComputedStyle(c).display !== "none")
  .map((c) => Math.round(c.getBoundingClientRect().top / 8))).size"""


TOPS = """(el) => Array.from(el.children).map((c) => [c.tagName, c.className, getComputedStyle(c).display,
  Math.round(c.getBoundingClientRect().top), Math.round(c.getBoundingClientRect().height)])"""


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_phone_layout_leaves_the_screen_to_the_messages(inbox_servers, chromium, role):
    number = WhatsAppNumberFactory()
    org = number.organization
    user = (UserFactory if role == "agent" else SupervisorFactory)(
        organization=org, username="lia"
    )
    TeamFactory(organization=org, members=[user], numbers=[number])
    conversation = ConversationFactory(
        organization=org,
        number=number,
        assignee=user,
        contact__name="Maria",
        contact__wa_id="5511987654321",
    )
    MessageFactory(conversation=conversation, text="Where is my order?")
    OutboundMessageFactory(conversation=conversation, text="On its way.")
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    try:
        page = context.new_page()
        sign_in(page, inbox_servers.url, user.username, DEFAULT_PASSWORD)
        page.wait_for_url(lambda url: "/accounts/login/" not in url, timeout=TIMEOUT)
        page.goto(f"{inbox_servers.url}/inbox/c/{conversation.pk}/")
        expect(page.locator("#thread")).to_contain_text("On its way.", timeout=TIMEOUT)

        expect(page.locator("[data-shortcut-help]")).to_be_hidden()
        assert page.locator(".topbar").evaluate(ROWS) == 1, (
            "the top bar takes more than one row"
        )
        toolbar = page.locator(".composer-toolbar")
        assert toolbar.evaluate(ROWS) == 1, f"the composer's tools take more than one row: {toolbar.evaluate(TOPS)}"
        assert page.locator(".thread-header").bounding_box()["height"] <= 64
        messages = page.locator("#thread-scroll").bounding_box()["height"]
        assert messages >= 0.65 * 844, f"the messages have {messages:.0f} px of 844"
        expect(page.locator(".thread-sub")).to_contain_text("+55 11 98765-4321")
    finally:
        context.close()


def test_desktop_keeps_the_shortcuts_button(inbox_servers, new_page):
    number = WhatsAppNumberFactory()
    user = UserFactory(organization=number.organization, username="rui")
    page = new_page(viewport={"width": 1440, "height": 900})
    sign_in(page, inbox_servers.url, user.username, DEFAULT_PASSWORD)
    page.wait_for_url(lambda url: "/accounts/login/" not in url, timeout=TIMEOUT)
    expect(page.locator("[data-shortcut-help]")).to_be_visible()
