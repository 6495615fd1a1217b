"""The composer's calling kinds in a browser: a call-permission request and a
voice-call button chosen in the Buttons / List pop-up, each kind's fields shown, the
preview showing the button the customer will tap, and what is sent reaching the
simulator as Meta's payload."""

import time

import pytest
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, TeamFactory, UserFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Message
from apps.messaging.tests.factories import MessageFactory
from apps.simulator.models import SimulatedMessage
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms


@pytest.fixture
def opened(inbox_servers, new_page):
    """An agent's conversation page with an open window, the Buttons / List pop-up open."""
    number = WhatsAppNumberFactory()
    org = number.organization
    agent = UserFactory(organization=org, username="noa")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, assignee=agent, contact__name="Maria")
    MessageFactory(conversation=conversation, text="Can someone call me?")
    page = new_page()
    sign_in(page, inbox_servers.url, agent.username, DEFAULT_PASSWORD)
    page.goto(f"{inbox_servers.url}/inbox/c/{conversation.pk}/")
    page.get_by_role("button", name="Buttons / list").click()
    return conversation, page, page.locator("#composer-interactive")


def sent_to_simulator(conversation) -> dict:
    message = Message.objects.get(conversation=conversation, type="interactive")
    for _ in range(200):
        message.refresh_from_db()
        if message.wamid:
            break
        time.sleep(0.1)
    return SimulatedMessage.objects.get(wamid=message.wamid).payload["interactive"]


def send(page, form):
    with page.expect_response(lambda r: r.url.endswith("/send/")) as answer:
        form.get_by_role("button", name="Send", exact=True).click()
    assert answer.value.status == 200


def test_a_call_permission_request_from_the_composer(opened):
    conversation, page, form = opened
    form.get_by_label("Ask permission to call").check()
    expect(form.locator("[data-composer-ibuttons]")).to_be_hidden()
    expect(form.locator("p[data-composer-ikind=call_permission_request]")).to_be_visible()
    expect(form.locator("[data-composer-ikind=voice_call]")).to_be_hidden()
    form.get_by_label("Body").fill("May we call you about your order?")
    preview = form.locator("[data-interactive-preview]")
    expect(preview.locator(".i-buttons li")).to_have_text(["📞 Allow calls from the business?"], timeout=TIMEOUT)
    send(page, form)
    assert sent_to_simulator(conversation) == {
        "type": "call_permission_request", "body": {"text": "May we call you about your order?"},
        "action": {"name": "call_permission_request"}}


def test_a_voice_call_button_from_the_composer(opened):
    conversation, page, form = opened
    form.get_by_label("Call button").check()
    fields = form.locator("[data-composer-ikind=voice_call]")
    expect(fields).to_be_visible()
    form.get_by_label("Body").fill("Talk to us on WhatsApp")
    preview = form.locator("[data-interactive-preview]")
    expect(preview.locator(".i-buttons li")).to_have_text(["📞 Call Now"], timeout=TIMEOUT)
    fields.locator("input[name=call_display_text]").fill("Call support")
    fields.locator("input[name=call_ttl_minutes]").fill("120")
    fields.locator("input[name=call_payload]").fill("order-42")
    expect(preview.locator(".i-buttons li")).to_have_text(["📞 Call support"], timeout=TIMEOUT)
    send(page, form)
    assert sent_to_simulator(conversation) == {
        "type": "voice_call", "body": {"text": "Talk to us on WhatsApp"},
        "action": {"name": "voice_call", "parameters": {"display_text": "Call support", "ttl_minutes": 120,
                                                        "payload": "order-42"}}}
