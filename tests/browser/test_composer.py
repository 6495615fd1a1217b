"""The composer and the side panel in headless Chromium, over the ASGI app with its
websocket and the Graph API simulator: an agent sends a text (Enter) and a file,
reacts to the customer's message, is refused free text with the reason when the
window is closed (the text stays), and resolves; a supervisor's panel follows live.
"""

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, SupervisorFactory, TeamFactory, UserFactory
from apps.conversations.models import Conversation
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Direction, Message
from apps.messaging.tests.factories import MessageFactory
from apps.simulator.models import SimulatedMessage
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms: an answer either arrives or not; generous for a loaded machine


def png(path) -> str:
    Image.new("RGB", (16, 16), (10, 120, 200)).save(path, format="PNG")
    return str(path)


def test_agent_sends_text_and_file_reacts_and_resolves(inbox_servers, new_page, tmp_path):
    base = inbox_servers.url
    number = WhatsAppNumberFactory()
    org = number.organization
    agent = UserFactory(organization=org, username="ana")
    supervisor = SupervisorFactory(organization=org, username="sofia")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, assignee=agent, contact__name="Maria")
    customer = MessageFactory(conversation=conversation, text="Where is my order?")

    page = new_page()
    sign_in(page, base, agent.username, DEFAULT_PASSWORD)
    watcher = new_page()
    sign_in(watcher, base, supervisor.username, DEFAULT_PASSWORD)
    watcher.goto(f"{base}/inbox/c/{conversation.pk}/")
    page.goto(f"{base}/inbox/c/{conversation.pk}/")

    # Text: Enter sends; the composer is cleared; the message reaches the simulator.
    body = page.get_by_label("Message", exact=True)
    expect(body).to_be_enabled()
    body.fill("It left our warehouse today")
    body.press("Enter")
    expect(body).to_have_value("", timeout=TIMEOUT)
    expect(page.locator("#thread")).to_contain_text("It left our warehouse today", timeout=TIMEOUT)
    sent = Message.objects.get(conversation=conversation, direction=Direction.OUTBOUND, type="text")
    assert sent.text == "It left our warehouse today" and sent.author == agent

    # A file, with a caption, sent as the image it is.
    page.get_by_role("button", name="Attach").click()
    page.locator("[data-composer-file]").set_input_files(png(tmp_path / "label.png"))
    page.get_by_label("Caption").fill("Your shipping label")
    page.get_by_role("button", name="Send file").click()
    expect(page.locator("#composer-attach")).to_be_hidden(timeout=TIMEOUT)
    expect(page.locator("#thread")).to_contain_text("Your shipping label", timeout=TIMEOUT)
    image = Message.objects.get(conversation=conversation, direction=Direction.OUTBOUND, type="image")
    assert image.text == "Your shipping label"

    # React to the customer's message.
    bubble = page.locator(f'[data-message-id="{customer.pk}"]').first
    bubble.hover()
    with page.expect_response(lambda r: r.url.endswith("/react/")) as answer:
        bubble.locator('[data-action="react"]').click()
        page.locator(".composer-react-picker button", has_text="👍").click()
    assert answer.value.status == 200
    reaction = Message.objects.get(conversation=conversation, type="reaction")
    assert reaction.content == {"message_id": customer.wamid, "emoji": "👍"}

    # Text and file went out to WhatsApp: the simulator holds them under their wamids.
    for message in (sent, image):
        message.refresh_from_db()
        assert message.wamid and SimulatedMessage.objects.filter(wamid=message.wamid, type=message.type).exists()

    # Resolve from the panel; the supervisor's panel follows live.
    page.locator("#panel-actions-body").get_by_role("button", name="Resolve").click()
    expect(page.locator("[data-panel-status]")).to_have_text("Resolved", timeout=TIMEOUT)
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.RESOLVED
    expect(watcher.locator("[data-panel-status]")).to_have_text("Resolved", timeout=TIMEOUT)


def test_closed_window_keeps_free_text_closed_and_offers_templates(inbox_servers, new_page):
    base = inbox_servers.url
    number = WhatsAppNumberFactory()
    org = number.organization
    agent = UserFactory(organization=org, username="bea")
    conversation = ConversationFactory(organization=org, number=number, assignee=agent,
                                       last_customer_message_at=None)
    page = new_page()
    sign_in(page, base, agent.username, DEFAULT_PASSWORD)
    page.goto(f"{base}/inbox/c/{conversation.pk}/")
    expect(page.get_by_label("Message", exact=True)).to_be_disabled()
    expect(page.locator("[data-composer-window]")).to_contain_text("only an approved template can be sent")
    expect(page.get_by_role("button", name="Template")).to_be_enabled()
    page.get_by_role("button", name="Template").click()
    expect(page.locator("#composer-template-list")).to_contain_text("No approved template matches.", timeout=TIMEOUT)
    page.keyboard.press("Escape")
    expect(page.locator("#composer-templates")).to_be_hidden()
