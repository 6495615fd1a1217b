"""The agent's own reaction sits under the message it reacts to, as the customer's do,
live and after a reload: never a "Reacted 🙏" bubble of its own with ticks."""

import pytest
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, TeamFactory, UserFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Message, Reaction
from apps.messaging.tests.factories import MessageFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import sign_in
from .helpers import open_picker

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms


def test_own_reaction_sits_under_the_message_live_and_after_reload(inbox_servers, new_page):
    base = inbox_servers.url
    number = WhatsAppNumberFactory()
    org = number.organization
    agent = UserFactory(organization=org, username="rita")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, assignee=agent, contact__name="Maria")
    customer = MessageFactory(conversation=conversation, text="Thank you so much!")
    Reaction.objects.create(organization=org, number=number, target_wamid=customer.wamid, message=customer,
                            direction="in", reactor=conversation.contact.wa_id, emoji="❤️")

    page = new_page()
    page.add_init_script("""document.addEventListener("inbox:event", (e) => {
        if (e.detail.event === "catch_up.done") window.__caughtUp = true; });""")
    sign_in(page, base, agent.username, DEFAULT_PASSWORD)
    page.goto(f"{base}/inbox/c/{conversation.pk}/")

    def settle():
        # Opening the conversation marks the customer's message read, and its live update
        # (replayed by the socket's catch-up) renders the message again, taking an open
        # picker with it: react once that is over.
        page.wait_for_function("() => window.__caughtUp === true", timeout=TIMEOUT)
        page.wait_for_load_state("networkidle")

    settle()
    bubble = page.locator(f"#m{customer.pk}")
    picker = open_picker(page, customer)
    with page.expect_response(lambda r: r.url.endswith("/react/")) as answer:
        picker.get_by_role("button", name="🙏", exact=True).click()
    assert answer.value.status == 200

    def assert_under_the_message():
        reactions = bubble.locator(".reactions li")
        expect(reactions).to_have_count(2, timeout=TIMEOUT)
        expect(bubble.locator('.reactions li[title="Business"]')).to_have_text("🙏")
        expect(bubble.locator('.reactions li[title="Customer"]')).to_have_text("❤️")
        expect(page.locator("#thread li.message.type-reaction")).to_have_count(0)
        expect(page.locator("#thread")).not_to_contain_text("Reacted")

    assert_under_the_message()
    reaction = Message.objects.get(conversation=conversation, type="reaction")
    assert reaction.content == {"message_id": customer.wamid, "emoji": "🙏"}
    page.evaluate("window.__caughtUp = false")
    page.reload()
    settle()
    assert_under_the_message()

    # Taken back: the chip goes, live.
    open_picker(page, customer).get_by_role("button", name="Remove reaction").click()
    expect(bubble.locator('.reactions li[title="Business"]')).to_have_count(0, timeout=TIMEOUT)
    expect(bubble.locator('.reactions li[title="Customer"]')).to_have_text("❤️")
    expect(page.locator("#thread li.message.type-reaction")).to_have_count(0)
