"""The Details panel on a phone (390×844): it opens over the thread with a close button
that takes the focus; the close button, Escape and a tap outside it each close it, and
the focus goes back to the Details button. On a desktop it is a column, always shown."""

import pytest
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, TeamFactory, UserFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.tests.factories import MessageFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def open_conversation(inbox_servers, new_page, viewport):
    number = WhatsAppNumberFactory()
    org = number.organization
    agent = UserFactory(organization=org, username="dina")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, assignee=agent, contact__name="Maria")
    MessageFactory(conversation=conversation, text="Hello, is my order ready?")
    page = new_page(viewport=viewport)
    sign_in(page, inbox_servers.url, agent.username, DEFAULT_PASSWORD)
    page.goto(f"{inbox_servers.url}/inbox/c/{conversation.pk}/")
    return page


def open_panel(page):
    toggle = page.get_by_role("button", name="Details", exact=True)
    toggle.click()
    panel = page.locator("#side-panel")
    expect(panel).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    close = panel.get_by_role("button", name="Close the details")
    expect(close).to_be_focused()
    # The close button is on top, inside the screen, where a thumb can reach it.
    box = close.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["y"] >= 0
    centre = close.evaluate("""(b) => { const r = b.getBoundingClientRect();
        return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === b; }""")
    assert centre, "something covers the panel's close button"
    return toggle, panel, close


def assert_closed(page, toggle, panel):
    expect(panel).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()


def test_phone_details_panel_closes_by_button_escape_and_tap_outside(inbox_servers, new_page):
    page = open_conversation(inbox_servers, new_page, PHONE)

    toggle, panel, close = open_panel(page)
    close.click()
    assert_closed(page, toggle, panel)

    toggle, panel, _close = open_panel(page)
    page.keyboard.press("Escape")
    assert_closed(page, toggle, panel)

    toggle, panel, _close = open_panel(page)
    # A tap on the thread beside the panel (the panel takes the right of the screen).
    panel_box = panel.bounding_box()
    assert panel_box["x"] > 20, "the panel leaves no room to tap outside it"
    page.mouse.click(panel_box["x"] / 2, PHONE["height"] / 2)
    assert_closed(page, toggle, panel)

    # Escape typed in one of the panel's fields closes it as well.
    toggle, panel, _close = open_panel(page)
    panel.get_by_label("Private note").click()
    page.keyboard.press("Escape")
    assert_closed(page, toggle, panel)


def test_desktop_details_are_a_column_without_toggle_or_close(inbox_servers, new_page):
    page = open_conversation(inbox_servers, new_page, DESKTOP)
    expect(page.locator("#side-panel")).to_be_visible()
    expect(page.get_by_role("button", name="Details", exact=True)).to_be_hidden()
    expect(page.get_by_role("button", name="Close the details")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(page.locator("#side-panel")).to_be_visible()
