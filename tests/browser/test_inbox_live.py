"""End to end in headless Chromium, over the ASGI app with its websocket:

an agent signs in; a customer's message arrives through the signed webhook and
appears without a reload; the agent replies through the composer; the reply reaches
the simulator and its ticks turn to delivered and read live; a second agent without
access sees none of it.
"""

import json
import re

import pytest
import requests
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, TeamFactory, UserFactory
from apps.conversations.models import Conversation
from apps.messaging.models import Direction, Message
from apps.simulator.models import SimulatedMessage
from apps.whatsapp.tests.factories import WhatsAppNumberFactory
from apps.whatsapp.tests.utils import envelope, message, messages_change, sign

from .conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = "5511987650001"
TIMEOUT = 20_000  # ms: generous on a loaded CI machine; an event either arrives or not


def post_customer_message(base: str, number, body: str, *, customer: str = CUSTOMER,
                          name: str = "Maria Cliente") -> None:
    payload = envelope(messages_change(
        phone_number_id=number.phone_number_id, messages=[message("text", body=body, from_=customer)],
        contacts=[{"profile": {"name": name}, "wa_id": customer}],
    ))
    raw = json.dumps(payload).encode()
    response = requests.post(f"{base}/webhooks/whatsapp/", data=raw, timeout=30, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, number.app_secret)})
    assert response.status_code == 200, response.text


def record_frames(page) -> None:
    # Now and then (about one run in four of this file, never alone) the page reloads
    # right after it went online, as live.js does on catch_up.reset; the cause is not
    # found yet (not the periodic rights check). Recording starts again after it.
    for _attempt in range(3):
        try:
            page.evaluate("""() => {
                window.__frames = [];
                document.addEventListener("inbox:event", (e) => window.__frames.push(e.detail));
            }""")
            return
        except PlaywrightError as error:
            if "Execution context was destroyed" not in str(error):
                raise
            page.wait_for_load_state()
            wait_online(page)
    raise AssertionError("the page kept reloading")


def wait_online(page) -> None:
    expect(page.locator("#connection")).to_have_attribute("data-state", "online", timeout=TIMEOUT)


def test_customer_message_reply_and_ticks_live(inbox_servers, new_page):
    base = inbox_servers.url
    number = WhatsAppNumberFactory()
    org = number.organization
    agent = UserFactory(organization=org, username="ana", display_name="Ana Agent")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    outsider = UserFactory(organization=org, username="otto", display_name="Otto Outsider")
    TeamFactory(organization=org, members=[outsider])  # a team without this number

    page = new_page()
    sign_in(page, base, agent.username, DEFAULT_PASSWORD)
    page.wait_for_url(re.compile(r".*/inbox/.*"))
    wait_online(page)
    expect(page.get_by_text("No conversations here.")).to_be_visible()
    record_frames(page)

    other = new_page()
    sign_in(other, base, outsider.username, DEFAULT_PASSWORD)
    other.wait_for_url(re.compile(r".*/inbox/.*"))
    wait_online(other)
    record_frames(other)

    # 1. The customer writes: the conversation appears at the top of the list, live.
    post_customer_message(base, number, "Olá, meu pedido não chegou")
    row = page.locator("li.conversation-row", has_text="Maria Cliente")
    expect(row).to_be_visible(timeout=TIMEOUT)
    expect(row).to_contain_text("Olá, meu pedido não chegou")
    expect(row.locator(".badge")).to_have_text("1")
    expect(page).to_have_title(re.compile(r"^\(1\) "))
    conversation = Conversation.objects.get(contact__wa_id=CUSTOMER)

    # 2. The agent opens it; a second customer message lands in the open thread.
    row.locator("a").click()
    page.wait_for_url(re.compile(rf".*/inbox/c/{conversation.pk}/.*"))
    wait_online(page)
    post_customer_message(base, number, "Pode verificar, por favor?")
    expect(page.locator("#thread li.message.in", has_text="Pode verificar, por favor?")).to_be_visible(timeout=TIMEOUT)
    # Read at once, since the agent is looking at it: no unread badge on its row.
    expect(page.locator(f"#row-{conversation.pk}")).to_have_attribute("data-unread", "0", timeout=TIMEOUT)

    # 3. The agent replies through the composer.
    page.locator("#composer-body").fill("Claro! Já estou verificando.")
    page.locator("[data-composer-send]").click()
    reply = page.locator("#thread li.message.out", has_text="Claro! Já estou verificando.")
    expect(reply).to_have_count(1, timeout=TIMEOUT)

    # 4. It reaches the simulator, and its ticks turn to delivered, then read, live.
    expect(reply.locator('[data-tick="read"]')).to_be_visible(timeout=TIMEOUT)
    sent = Message.objects.get(conversation=conversation, direction=Direction.OUTBOUND)
    assert sent.status == "read" and sent.delivered_at is not None and sent.read_at is not None
    assert SimulatedMessage.objects.filter(wamid=sent.wamid).exists()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "inbox-live.png"), full_page=False)

    # 5. The other agent saw none of it: no row, no event, and the page is not found.
    expect(other.locator("li.conversation-row")).to_have_count(0)
    frames = other.evaluate("window.__frames")
    assert all(json.dumps(f).find("Maria Cliente") == -1 for f in frames)
    assert all((f.get("data") or {}).get("conversation_id") != conversation.pk for f in frames)
    assert all((f.get("data") or {}).get("id") != conversation.pk or f.get("event", "").startswith("presence")
               for f in frames)
    response = other.goto(f"{base}/inbox/c/{conversation.pk}/")
    assert response.status == 404


def test_reconnects_and_catches_up_what_it_missed(inbox_servers, new_page):
    """live.js reconnects after the socket drops; what was published while it was away
    comes with its catch-up, without a reload."""
    base = inbox_servers.url
    number = WhatsAppNumberFactory()
    agent = UserFactory(organization=number.organization, username="bia")
    TeamFactory(organization=number.organization, members=[agent], numbers=[number])
    page = new_page()
    sign_in(page, base, agent.username, DEFAULT_PASSWORD)
    page.wait_for_url(re.compile(r".*/inbox/.*"))
    wait_online(page)
    page.evaluate("window.Inbox._drop()")
    expect(page.locator("#connection")).to_have_attribute("data-state", "offline", timeout=TIMEOUT)
    wait_online(page)
    post_customer_message(base, number, "Depois da reconexão")
    expect(page.locator("li.conversation-row", has_text="Depois da reconexão")).to_be_visible(timeout=TIMEOUT)

    # Away (the laptop sleeps): a new customer writes meanwhile; back, the page catches up.
    page.evaluate("window.Inbox._pause()")
    expect(page.locator("#connection")).to_have_attribute("data-state", "offline", timeout=TIMEOUT)
    record_frames(page)
    payload = envelope(messages_change(
        phone_number_id=number.phone_number_id, messages=[message("text", body="Enquanto você dormia", from_="5511900000002")],
        contacts=[{"profile": {"name": "Rui Noturno"}, "wa_id": "5511900000002"}],
    ))
    raw = json.dumps(payload).encode()
    assert requests.post(f"{base}/webhooks/whatsapp/", data=raw, timeout=30, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, number.app_secret)}).status_code == 200
    assert page.evaluate("window.__frames.length") == 0  # the socket is closed: nothing came
    page.evaluate("window.Inbox._resume()")
    expect(page.locator("li.conversation-row", has_text="Rui Noturno")).to_be_visible(timeout=TIMEOUT)
    events = [f["event"] for f in page.evaluate("window.__frames")]
    assert "conversation.created" in events and "catch_up.done" in events


def test_phone_layout_list_and_thread_are_separate_screens(inbox_servers, new_page):
    base = inbox_servers.url
    number = WhatsAppNumberFactory()
    agent = UserFactory(organization=number.organization, username="cai")
    TeamFactory(organization=number.organization, members=[agent], numbers=[number])
    post_customer_message(base, number, "Oi pelo celular")
    conversation = Conversation.objects.get(contact__wa_id=CUSTOMER)
    page = new_page(viewport={"width": 390, "height": 844})
    sign_in(page, base, agent.username, DEFAULT_PASSWORD)
    page.wait_for_url(re.compile(r".*/inbox/.*"))
    expect(page.locator(".list-pane")).to_be_visible()
    expect(page.locator(".thread-pane")).to_be_hidden()
    page.locator("li.conversation-row a").first.click()
    page.wait_for_url(re.compile(rf".*/inbox/c/{conversation.pk}/.*"))
    expect(page.locator(".list-pane")).to_be_hidden()
    expect(page.locator("#thread")).to_contain_text("Oi pelo celular")
    # Keyboard: "?" opens the shortcut help, "u" goes back to the list.
    page.keyboard.press("?")
    expect(page.locator("#shortcut-help")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("u")
    page.wait_for_url(re.compile(r".*/inbox/\?.*"))
    expect(page.locator(".list-pane")).to_be_visible()


def test_keyboard_shortcuts_move_between_conversations_and_search(asgi_server, new_page):
    from datetime import timedelta

    from django.utils import timezone

    from apps.conversations.tests.factories import ConversationFactory

    number = WhatsAppNumberFactory()
    org = number.organization
    agent = UserFactory(organization=org, username="dui")
    now = timezone.now()
    newer = ConversationFactory(organization=org, number=number, assignee=agent, contact__organization=org,
                                contact__name="Newer Person", last_message_at=now)
    older = ConversationFactory(organization=org, number=number, assignee=agent, contact__organization=org,
                                contact__name="Older Person", last_message_at=now - timedelta(hours=1))
    page = new_page()
    sign_in(page, asgi_server.url, agent.username, DEFAULT_PASSWORD)
    page.wait_for_url(re.compile(r".*/inbox/.*"))
    page.keyboard.press("j")
    page.wait_for_url(re.compile(rf".*/inbox/c/{newer.pk}/.*"))
    page.keyboard.press("j")
    page.wait_for_url(re.compile(rf".*/inbox/c/{older.pk}/.*"))
    expect(page.locator(f"#row-{older.pk}")).to_have_class(re.compile("current"))
    page.keyboard.press("k")
    page.wait_for_url(re.compile(rf".*/inbox/c/{newer.pk}/.*"))
    page.keyboard.press("/")
    expect(page.locator("#search-input")).to_be_focused()
    page.keyboard.type("Older")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*q=Older.*"))
    expect(page.locator("li.conversation-row")).to_have_count(1)
    expect(page.locator("li.conversation-row")).to_contain_text("Older Person")


NOTIFICATION_STUB = """
window.__notifications = [];
window.__hidden = false;
window.Notification = function (title, options) { window.__notifications.push({title: title, body: (options || {}).body}); };
window.Notification.permission = "granted";
window.Notification.requestPermission = function () { return Promise.resolve("granted"); };
Object.defineProperty(document, "hidden", {configurable: true, get: function () { return window.__hidden; }});
"""


def test_desktop_notification_and_title_while_the_tab_is_hidden(asgi_server, new_page):
    """A customer message in the agent's conversations while the tab is in the
    background: a desktop notification (the browser's Notification API, stubbed here
    to record it) and the unread count in the tab title."""
    number = WhatsAppNumberFactory()
    agent = UserFactory(organization=number.organization, username="eva")
    TeamFactory(organization=number.organization, members=[agent], numbers=[number])
    page = new_page()
    page.add_init_script(NOTIFICATION_STUB)
    sign_in(page, asgi_server.url, agent.username, DEFAULT_PASSWORD)
    page.wait_for_url(re.compile(r".*/inbox/.*"))
    wait_online(page)
    page.evaluate("window.__hidden = true")
    post_customer_message(asgi_server.url, number, "Alguém aí?")
    # A function, not an expression: Playwright evaluates an expression with eval, which
    # the page's Content-Security-Policy refuses.
    page.wait_for_function("() => window.__notifications.length === 1", timeout=TIMEOUT)
    note = page.evaluate("window.__notifications[0]")
    assert note["body"] == "Alguém aí?"
    assert note["title"] == "Maria Cliente"
    expect(page).to_have_title(re.compile(r"^\(1\) "))
    # Back in the foreground and nothing new: no second notification.
    page.evaluate("window.__hidden = false; document.dispatchEvent(new Event('visibilitychange'))")
    post_customer_message(asgi_server.url, number, "Olá?", customer="5511900000003", name="Leo Visível")
    expect(page.locator("li.conversation-row", has_text="Leo Visível")).to_be_visible(timeout=TIMEOUT)
    assert page.evaluate("window.__notifications.length") == 1
