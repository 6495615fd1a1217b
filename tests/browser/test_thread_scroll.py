"""A thread with images opens at the newest message, however late the images get their
size; scrolled up, a button leads back to the newest, and says so when new messages
arrive meanwhile (the thread stays where the agent is reading)."""

import io
import json
from datetime import timedelta

import pytest
import requests
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, TeamFactory, UserFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.media.tests.factories import StoredMediaFactory
from apps.messaging.tests.factories import MessageFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from apps.whatsapp.tests.utils import envelope, message, messages_change, sign

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms

# Distance from the bottom of the thread, and whether the newest message is in view.
AT_NEWEST = """() => {
  const s = document.getElementById("thread-scroll");
  const items = s.querySelectorAll("li.message");
  const last = items[items.length - 1].getBoundingClientRect(), view = s.getBoundingClientRect();
  return {gap: Math.round(s.scrollHeight - s.scrollTop - s.clientHeight),
          newest_in_view: last.top >= view.top - 1 && last.bottom <= view.bottom + 1};
}"""


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def thread_with_images(count: int = 8):
    number = WhatsAppNumberFactory()
    org = number.organization
    agent = UserFactory(organization=org, username="iris")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, assignee=agent, contact__name="Maria")
    start = timezone.now() - timedelta(minutes=count + 1)
    picture = png(600, 900)
    for index in range(count):
        photo = MessageFactory(conversation=conversation, type="image", text="", content={},
                               timestamp=start + timedelta(minutes=index))
        StoredMediaFactory(message=photo, kind="image", mime_type="image/png", filename=f"photo{index}.png",
                           size=len(picture), file=ContentFile(picture, name=f"photo{index}.png"))
    MessageFactory(conversation=conversation, text="The last one is the box, as you asked",
                   timestamp=start + timedelta(minutes=count))
    return agent, conversation, number


def wait_for_images_in_view(page):
    # Every image that the browser started to load (lazy ones out of sight do not) is done.
    page.wait_for_function("""() => {
        const view = document.getElementById("thread-scroll").getBoundingClientRect();
        return Array.from(document.querySelectorAll("#thread img")).filter((img) => {
            const box = img.getBoundingClientRect();
            return box.bottom >= view.top && box.top <= view.bottom;
        }).every((img) => img.complete && img.naturalHeight > 0);
    }""", timeout=TIMEOUT)


def test_thread_with_images_opens_at_the_newest_message(inbox_servers, new_page):
    agent, conversation, _number = thread_with_images()
    page = new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, inbox_servers.url, agent.username, DEFAULT_PASSWORD)
    page.goto(f"{inbox_servers.url}/inbox/c/{conversation.pk}/")
    newest = page.locator("#thread li.message", has_text="The last one is the box")
    expect(newest).to_be_in_viewport(timeout=TIMEOUT)
    wait_for_images_in_view(page)
    # The images had their size after the first scroll: the thread followed them.
    heights = page.evaluate("""() => Array.from(document.querySelectorAll("#thread img.image"))
        .map((img) => img.getBoundingClientRect().height)""")
    assert any(h > 100 for h in heights), heights
    state = page.evaluate(AT_NEWEST)
    assert state["gap"] <= 2 and state["newest_in_view"], state
    expect(page.locator("[data-jump-newest]")).to_be_hidden()


def test_scrolled_up_new_messages_are_announced_and_the_button_jumps_to_them(inbox_servers, new_page):
    agent, conversation, number = thread_with_images(6)
    page = new_page(viewport={"width": 390, "height": 844})
    sign_in(page, inbox_servers.url, agent.username, DEFAULT_PASSWORD)
    page.goto(f"{inbox_servers.url}/inbox/c/{conversation.pk}/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "online", timeout=TIMEOUT)
    expect(page.locator("#thread li.message", has_text="The last one is the box")).to_be_in_viewport(timeout=TIMEOUT)
    wait_for_images_in_view(page)

    # The agent scrolls up to read: the way back to the newest appears.
    page.locator("#thread-scroll").hover()
    page.mouse.wheel(0, -2000)
    jump = page.locator("[data-jump-newest]")
    expect(jump).to_be_visible(timeout=TIMEOUT)
    expect(jump).to_contain_text("Newest")
    reading = page.evaluate("document.getElementById('thread-scroll').scrollTop")

    # A customer message arrives: the thread stays where the agent reads, the button says so.
    payload = envelope(messages_change(
        phone_number_id=number.phone_number_id,
        messages=[message("text", body="Did you get my photos?", from_=conversation.contact.wa_id)],
        contacts=[{"profile": {"name": "Maria"}, "wa_id": conversation.contact.wa_id}],
    ))
    raw = json.dumps(payload).encode()
    response = requests.post(f"{inbox_servers.url}/webhooks/whatsapp/", data=raw, timeout=30, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, number.app_secret)})
    assert response.status_code == 200
    arrived = page.locator("#thread li.message", has_text="Did you get my photos?")
    expect(arrived).to_have_count(1, timeout=TIMEOUT)
    expect(jump).to_contain_text("New messages")
    expect(arrived).not_to_be_in_viewport()
    assert abs(page.evaluate("document.getElementById('thread-scroll').scrollTop") - reading) <= 2

    jump.click()
    expect(arrived).to_be_in_viewport(timeout=TIMEOUT)
    expect(jump).to_be_hidden()
    assert page.evaluate(AT_NEWEST)["gap"] <= 2
