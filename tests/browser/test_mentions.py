"""@mentions, live: an agent mentions a colleague in a note; the colleague's inbox shows
an unread count on the Mentions view and a desktop notification; the view lists the
conversation; opening it marks the mention read. A user of another organisation, even
named the same way, hears nothing."""

import re

import pytest
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, TeamFactory, UserFactory
from apps.conversations.models import NoteMention
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.tests.factories import MessageFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms

# The browser's notifications, recorded: permission granted, each one kept.
RECORD_NOTIFICATIONS = """
window.__notifications = [];
window.Notification = class {
  constructor(title, options) { window.__notifications.push({title, body: (options || {}).body || ""}); }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
"""


def online(page):
    expect(page.locator("#connection")).to_have_attribute("data-state", "online", timeout=TIMEOUT)


def test_a_mentioned_colleague_gets_a_badge_a_notification_and_the_mentions_view(inbox_servers, new_page):
    base = inbox_servers.url
    number = WhatsAppNumberFactory()
    org = number.organization
    ana = UserFactory(organization=org, username="ana", display_name="Ana Souza")
    bea = UserFactory(organization=org, username="bea", display_name="Bea Lima")
    TeamFactory(organization=org, members=[ana, bea], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, contact__name="Maria")
    MessageFactory(conversation=conversation, text="My parcel is broken")
    # Someone of another organisation who goes by the same name.
    other_number = WhatsAppNumberFactory()
    stranger = UserFactory(organization=other_number.organization, username="bea.other")
    TeamFactory(organization=other_number.organization, members=[stranger], numbers=[other_number])

    colleague = new_page()
    colleague.add_init_script(RECORD_NOTIFICATIONS)
    sign_in(colleague, base, bea.username, DEFAULT_PASSWORD)
    colleague.wait_for_url(re.compile(r".*/inbox/.*"))
    online(colleague)
    badge = colleague.locator("[data-mentions-badge]")
    expect(badge).to_be_hidden()

    outsider = new_page()
    outsider.add_init_script(RECORD_NOTIFICATIONS)
    sign_in(outsider, base, stranger.username, DEFAULT_PASSWORD)
    outsider.wait_for_url(re.compile(r".*/inbox/.*"))
    online(outsider)

    author = new_page()
    sign_in(author, base, ana.username, DEFAULT_PASSWORD)
    author.goto(f"{base}/inbox/c/{conversation.pk}/")
    # @bea.other is of another organisation: plain text here.
    author.get_by_label("Private note").fill("@bea can you call her? cc @bea.other")
    author.get_by_role("button", name="Add note").click()
    expect(author.locator("#thread")).to_contain_text("@bea can you call her?", timeout=TIMEOUT)

    # The colleague: the count, live, and a desktop notification naming who mentioned them.
    expect(badge).to_be_visible(timeout=TIMEOUT)
    expect(badge).to_contain_text("1")
    colleague.wait_for_function("() => window.__notifications.length > 0", timeout=TIMEOUT)
    notifications = colleague.evaluate("window.__notifications")
    assert notifications == [{"title": "Ana Souza mentioned you", "body": "@bea can you call her? cc @bea.other"}]

    # The Mentions view lists the conversation, marked unread; opening it reads the mention.
    colleague.locator(".views a", has_text="Mentions").click()
    row = colleague.locator(f"#row-{conversation.pk}")
    expect(row).to_be_visible()
    expect(row.locator(".mention-mark")).to_be_visible()
    row.locator("a").click()
    colleague.wait_for_url(re.compile(rf".*/inbox/c/{conversation.pk}/.*"))
    expect(colleague.locator("[data-mentions-badge]")).to_be_hidden()
    assert not NoteMention.objects.filter(user=bea, read_at__isnull=True).exists()

    # Nothing reached the other organisation.
    assert outsider.evaluate("window.__notifications") == []
    expect(outsider.locator("[data-mentions-badge]")).to_be_hidden()
    assert not NoteMention.objects.filter(user=stranger).exists()


def test_a_mention_in_the_open_conversation_is_read_at_once(inbox_servers, new_page):
    base = inbox_servers.url
    number = WhatsAppNumberFactory()
    org = number.organization
    ana = UserFactory(organization=org, username="ana", display_name="Ana Souza")
    bea = UserFactory(organization=org, username="bea", display_name="Bea Lima")
    TeamFactory(organization=org, members=[ana, bea], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, contact__name="Maria")

    colleague = new_page()
    sign_in(colleague, base, bea.username, DEFAULT_PASSWORD)
    colleague.goto(f"{base}/inbox/c/{conversation.pk}/")
    online(colleague)
    author = new_page()
    sign_in(author, base, ana.username, DEFAULT_PASSWORD)
    author.goto(f"{base}/inbox/c/{conversation.pk}/")
    author.get_by_label("Private note").fill("@bea this one is yours")
    # The colleague's page, looking at it, reads it at once (no unread count appears).
    with colleague.expect_response(lambda r: r.url.endswith(f"/inbox/c/{conversation.pk}/read/"),
                                   timeout=TIMEOUT) as read:
        author.get_by_role("button", name="Add note").click()
    assert read.value.status == 200
    expect(colleague.locator("#thread")).to_contain_text("@bea this one is yours", timeout=TIMEOUT)
    expect(colleague.locator("[data-mentions-badge]")).to_be_hidden()
    assert NoteMention.objects.filter(user=bea).count() == 1
    assert not NoteMention.objects.filter(user=bea, read_at__isnull=True).exists()
