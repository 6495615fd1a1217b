"""Live, without a reload: a colleague renames the contact, and the agent's list row,
thread title and page title follow; the customer writes again after the window
closed, and the title, the list row and the composer (enabled, its countdown running)
follow, keeping what the agent had typed in the template search."""

import json
import re

import pytest
import requests
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, SupervisorFactory, TeamFactory, UserFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.tests.factories import MessageFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from apps.whatsapp.tests.utils import envelope, message, messages_change, sign

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms


def online(page):
    expect(page.locator("#connection")).to_have_attribute("data-state", "online", timeout=TIMEOUT)


def test_rename_and_reopened_window_update_list_title_and_composer_live(inbox_servers, new_page):
    base = inbox_servers.url
    number = WhatsAppNumberFactory()
    org = number.organization
    agent = UserFactory(organization=org, username="lia")
    supervisor = SupervisorFactory(organization=org, username="sol")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    # The window closed: the customer last wrote two days ago.
    conversation = ConversationFactory(organization=org, number=number, assignee=agent, contact__name="Maria",
                                       last_customer_message_at=None)
    MessageFactory(conversation=conversation, text="Hello")

    page = new_page()
    sign_in(page, base, agent.username, DEFAULT_PASSWORD)
    page.goto(f"{base}/inbox/c/{conversation.pk}/")
    online(page)
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    row = page.locator(f"#row-{conversation.pk}")
    title = page.locator(".thread-title h1")
    composer = page.get_by_label("Message", exact=True)
    expect(composer).to_be_disabled()
    expect(row.locator(".window")).to_have_text("Window closed")
    expect(page.locator(".thread-title .window")).to_have_text("Window closed: templates only")

    # A supervisor renames the contact from their own panel.
    colleague = new_page()
    sign_in(colleague, base, supervisor.username, DEFAULT_PASSWORD)
    colleague.goto(f"{base}/inbox/c/{conversation.pk}/")
    name = colleague.locator("#panel-contact-body").get_by_label("Name", exact=True)
    name.fill("Maria Oliveira")
    colleague.locator("#panel-contact-body").get_by_role("button", name="Save contact").click()
    expect(colleague.locator("#panel-contact-body .panel-title")).to_have_text("Maria Oliveira", timeout=TIMEOUT)

    expect(row.locator(".row-name")).to_have_text("Maria Oliveira", timeout=TIMEOUT)
    expect(title).to_have_text("Maria Oliveira", timeout=TIMEOUT)
    expect(page).to_have_title(re.compile(r"^Maria Oliveira · "), timeout=TIMEOUT)

    # The agent starts looking for a template; meanwhile the customer writes again.
    page.get_by_role("button", name="Template").click()
    page.get_by_label("Search templates").fill("ship")
    payload = envelope(messages_change(
        phone_number_id=number.phone_number_id,
        messages=[message("text", body="Are you there?", from_=conversation.contact.wa_id)],
        contacts=[{"profile": {"name": "Maria"}, "wa_id": conversation.contact.wa_id}],
    ))
    raw = json.dumps(payload).encode()
    response = requests.post(f"{base}/webhooks/whatsapp/", data=raw, timeout=30, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, number.app_secret)})
    assert response.status_code == 200

    expect(composer).to_be_enabled(timeout=TIMEOUT)
    expect(page.locator("[data-composer-window]")).to_contain_text("Reply window closes in 23 h", timeout=TIMEOUT)
    expect(page.locator(".thread-title .window")).to_contain_text("Window open until", timeout=TIMEOUT)
    expect(row.locator(".window")).to_have_text("24h open", timeout=TIMEOUT)
    for control in ("Attach", "Location", "Buttons / list", "Send"):
        expect(page.locator("#composer-form").get_by_role("button", name=control, exact=True)).to_be_enabled()
    expect(page.get_by_label("Search templates")).to_have_value("ship")
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"

    # And the agent can answer at once.
    page.keyboard.press("Escape")
    composer.fill("Yes, here!")
    composer.press("Enter")
    expect(page.locator("#thread li.message.out", has_text="Yes, here!")).to_have_count(1, timeout=TIMEOUT)
