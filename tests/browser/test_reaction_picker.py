"""The reaction picker in headless Chromium: opened on a customer's message (left) and
on the business's own (right), on a desktop's and on a phone's width, every emoji lies
inside the thread's message column, nothing covers it, and a click sends the reaction.

Colour emoji (Debian's fonts-noto-color-emoji, which .ci/run installs) are wider than
the monochrome fallback; one test also widens the glyphs on purpose, so the layout is
held for any glyph width, not for one font.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, TeamFactory, UserFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Message, Status
from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import sign_in
from .helpers import open_picker

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms: an answer either arrives or not; generous for a loaded machine

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# For each button of the open picker: is its box inside the thread's message column
# (#thread-scroll) and the viewport, and is the element at its centre the button itself?
PICKER_BUTTONS = """(picker) => {
  const column = document.getElementById("thread-scroll").getBoundingClientRect();
  return Array.from(picker.querySelectorAll("button")).map((button) => {
    const box = button.getBoundingClientRect();
    const x = box.left + box.width / 2, y = box.top + box.height / 2;
    const hit = document.elementFromPoint(x, y);
    return {
      label: button.getAttribute("aria-label") || button.textContent,
      box: [Math.round(box.left), Math.round(box.top), Math.round(box.right), Math.round(box.bottom)],
      column: [Math.round(column.left), Math.round(column.top), Math.round(column.right), Math.round(column.bottom)],
      inside: box.width > 0 && box.height > 0 && box.left >= column.left && box.right <= column.right
        && box.top >= column.top && box.bottom <= column.bottom
        && box.right <= window.innerWidth && box.bottom <= window.innerHeight,
      on_top: hit !== null && button.contains(hit),
      hit: hit === null ? null : hit.outerHTML.slice(0, 100),
    };
  });
}"""


def conversation_with_both_sides():
    """A customer's message, the business's answer and a one-word customer's message
    (a bubble narrower than the message's own buttons)."""
    number = WhatsAppNumberFactory()
    org = number.organization
    agent = UserFactory(organization=org, username="rui")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, assignee=agent, contact__name="Maria")
    now = timezone.now()
    messages = {
        "customer's message": MessageFactory(
            conversation=conversation, text="Where is my order?", timestamp=now - timedelta(minutes=3)),
        "business's message": OutboundMessageFactory(
            conversation=conversation, author=agent, text="It left our warehouse today", status=Status.DELIVERED,
            wamid="wamid.OUTBOUND000001", timestamp=now - timedelta(minutes=2)),
        "customer's short message": MessageFactory(
            conversation=conversation, text="Ok", timestamp=now - timedelta(minutes=1)),
    }
    return agent, conversation, messages


def assert_reachable(page, picker, where):
    buttons = picker.evaluate(PICKER_BUTTONS)
    assert len(buttons) == 7
    wrong = [b for b in buttons if not (b["inside"] and b["on_top"])]
    assert not wrong, f"{where}: emoji outside the thread column or covered: {wrong}"


def react(page, picker, conversation, message, emoji):
    with page.expect_response(lambda r: r.url.endswith("/react/")) as answer:
        picker.get_by_role("button", name=emoji, exact=True).click()
    assert answer.value.status == 200
    expect(picker).to_have_count(0)
    reaction = Message.objects.filter(conversation=conversation, type="reaction").order_by("-pk").first()
    assert reaction is not None and reaction.content == {"message_id": message.wamid, "emoji": emoji}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_reaction_picker_stays_in_the_thread_column_on_top(inbox_servers, new_page, viewport):
    agent, conversation, messages = conversation_with_both_sides()
    page = new_page(viewport=viewport)
    sign_in(page, inbox_servers.url, agent.username, DEFAULT_PASSWORD)
    page.goto(f"{inbox_servers.url}/inbox/c/{conversation.pk}/")

    for (where, message), emoji in zip(messages.items(), ["👍", "🙏", "😂"]):
        picker = open_picker(page, message)
        assert_reachable(page, picker, where)
        react(page, picker, conversation, message, emoji)


def test_reaction_picker_wraps_inside_the_column_with_wide_glyphs(inbox_servers, new_page):
    agent, conversation, messages = conversation_with_both_sides()
    page = new_page(viewport=PHONE)
    sign_in(page, inbox_servers.url, agent.username, DEFAULT_PASSWORD)
    page.goto(f"{inbox_servers.url}/inbox/c/{conversation.pk}/")
    # Glyphs far wider than any emoji font draws them: seven no longer fit on one line.
    page.add_style_tag(content=".composer-react-picker button { font-size: 4rem; }")

    for where, message in messages.items():
        picker = open_picker(page, message)
        assert_reachable(page, picker, f"{where}, wide glyphs")
        page.keyboard.press("Escape")
        expect(picker).to_have_count(0)
    picker = open_picker(page, messages["customer's message"])
    react(page, picker, conversation, messages["customer's message"], "😮")
