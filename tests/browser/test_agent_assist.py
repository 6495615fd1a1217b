"""The agent assist in headless Chromium, over the ASGI app and a local OpenAI-compatible
server: "Suggest reply" fills the composer and "Summarise" shows the summary (posting
no body: daphne refuses an empty multipart form with a bare 400); a failure
shows the reason (the server's, or its HTTP status when it gave none), never a message
cut short; with no AI configured both buttons are disabled and say why.
"""

import pytest
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, TeamFactory, UserFactory
from apps.bot.tests.openai_server import FakeOpenAI
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.tests.factories import MessageFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms: an answer either arrives or not; generous for a loaded machine
NOT_CONFIGURED = "The AI assistant is not configured"


@pytest.fixture(scope="module")
def openai_server():
    server = FakeOpenAI()
    yield server
    server.close()


@pytest.fixture
def ai(openai_server, settings):
    openai_server.reset()
    settings.OPENAI_API_KEY = "sk-test-key"
    settings.OPENAI_BASE_URL = openai_server.url
    settings.OPENAI_TIMEOUT = 5
    settings.OPENAI_MAX_ATTEMPTS = 1
    settings.OPENAI_RETRY_BASE_DELAY = 0
    settings.OPENAI_EMBEDDING_MODEL = ""
    yield openai_server
    openai_server.reset()


def open_conversation(base, new_page):
    number = WhatsAppNumberFactory(organization__mark_read_on_open=False)  # no Graph API here
    org = number.organization
    agent = UserFactory(organization=org, username="ana")
    TeamFactory(organization=org, members=[agent], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, assignee=agent, contact__name="Maria")
    MessageFactory(conversation=conversation, text="Where is my order #1042?")
    page = new_page()
    sign_in(page, base, agent.username, DEFAULT_PASSWORD)
    page.goto(f"{base}/inbox/c/{conversation.pk}/")
    return page


def test_suggest_reply_and_summarise_answer(asgi_server, new_page, ai):
    page = open_conversation(asgi_server.url, new_page)
    ai.reply("It left our warehouse today and arrives tomorrow.")
    with page.expect_request("**/assist/suggest/") as sent:
        page.get_by_role("button", name="Suggest reply").click()
    # No body: an empty multipart form (an empty FormData) is answered 400, with no
    # body, by daphne (the ASGI server of the Procfile) before Django sees it.
    assert not sent.value.post_data
    assert "multipart" not in sent.value.headers.get("content-type", "")
    expect(page.get_by_label("Message", exact=True)).to_have_value(
        "It left our warehouse today and arrives tomorrow.", timeout=TIMEOUT)
    ai.reply("- Maria asks where order #1042 is.")
    page.get_by_role("button", name="Summarise").click()
    expect(page.locator("[data-composer-summary]")).to_contain_text("Maria asks where order #1042 is.",
                                                                     timeout=TIMEOUT)
    expect(page.locator("#composer-result")).to_be_empty()
    suggest_request, summary_request = ai.chat_requests()
    assert suggest_request["messages"][-1] == {"role": "user", "content": "Where is my order #1042?"}
    assert summary_request["messages"][0]["content"].startswith("Summarise this WhatsApp conversation")


def test_a_failure_says_why(asgi_server, new_page, ai):
    page = open_conversation(asgi_server.url, new_page)
    ai.error(500)
    page.get_by_role("button", name="Suggest reply").click()
    error = page.locator("#composer-result [role=alert]")
    expect(error).to_have_text("The assistant could not answer: The AI service failed: The AI service failed (500).",
                               timeout=TIMEOUT)
    # An answer that is no JSON of ours (a proxy's page): its HTTP status, not nothing.
    page.route("**/assist/summary/", lambda route: route.fulfill(
        status=400, content_type="text/html", body="<h1>Bad Request</h1>"))
    page.get_by_role("button", name="Summarise").click()
    expect(error).to_have_text("The assistant could not answer: the server answered HTTP 400 Bad Request",
                               timeout=TIMEOUT)
    page.unroute("**/assist/summary/")
    # A server out of reach.
    page.route("**/assist/summary/", lambda route: route.abort())
    page.get_by_role("button", name="Summarise").click()
    expect(error).to_contain_text("could not be reached", timeout=TIMEOUT)


def test_without_an_ai_the_buttons_are_disabled_and_say_why(asgi_server, new_page, settings):
    settings.OPENAI_API_KEY = ""
    page = open_conversation(asgi_server.url, new_page)
    for name in ("Suggest reply", "Summarise"):
        button = page.get_by_role("button", name=name)
        expect(button).to_be_disabled()
        expect(button).to_have_attribute("title", f"{NOT_CONFIGURED}: set OPENAI_API_KEY (or the organisation's key "
                                                  "in the bot settings).")
        expect(button).to_have_accessible_description(f"{NOT_CONFIGURED}: set OPENAI_API_KEY (or the organisation's "
                                                      "key in the bot settings).")
    expect(page.locator("[data-composer-assist-unavailable]")).to_be_visible()
    expect(page.locator("[data-composer-assist-unavailable]")).to_contain_text(NOT_CONFIGURED)
