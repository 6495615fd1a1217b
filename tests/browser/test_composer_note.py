"""The composer's Note tab in headless Chromium: an agent switches the composer to
"Note" (written on the notes' yellow, never mistaken for a reply), mentions a colleague
picked from the suggestions, saves with Enter; the note appears in the thread live for
the agent and for the colleague watching the conversation, nothing goes to the
customer, and "Reply" gives the reply box back. Also when the window is closed."""

import re

import pytest
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, TeamFactory, UserFactory
from apps.conversations.models import Note, NoteMention
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.models import Direction, Message
from apps.messaging.tests.factories import MessageFactory
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms


def test_a_note_from_the_composer_mentions_a_colleague_and_appears_live(inbox_servers, new_page):
    base = inbox_servers.url
    number = WhatsAppNumberFactory()
    org = number.organization
    ana = UserFactory(organization=org, username="ana", display_name="Ana Souza")
    bea = UserFactory(organization=org, username="bea", display_name="Bea Lima")
    TeamFactory(organization=org, members=[ana, bea], numbers=[number])
    # Unassigned, in their team: both see it.
    conversation = ConversationFactory(organization=org, number=number, contact__name="Maria")
    MessageFactory(conversation=conversation, text="My parcel is broken")

    colleague = new_page()
    sign_in(colleague, base, bea.username, DEFAULT_PASSWORD)
    colleague.goto(f"{base}/inbox/c/{conversation.pk}/")
    expect(colleague.locator("#connection")).to_have_attribute("data-state", "online", timeout=TIMEOUT)

    page = new_page()
    sign_in(page, base, ana.username, DEFAULT_PASSWORD)
    page.goto(f"{base}/inbox/c/{conversation.pk}/")
    composer = page.locator("#composer")
    reply_tab = composer.get_by_role("tab", name="Reply")
    note_tab = composer.get_by_role("tab", name="Note")
    expect(reply_tab).to_have_attribute("aria-selected", "true")
    reply = page.get_by_label("Message", exact=True)
    expect(reply).to_be_visible()

    # Note mode: the reply box gives way to the note's, on the notes' colour.
    note_tab.click()
    expect(note_tab).to_have_attribute("aria-selected", "true")
    expect(reply).to_be_hidden()
    note = page.get_by_label("Note for your team")
    expect(note).to_be_visible()
    expect(note).to_be_focused()
    expect(composer).to_have_class(re.compile(r"\bis-note\b"))
    background = note.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background != reply.evaluate("el => getComputedStyle(el).backgroundColor")

    # @mention: the colleague is suggested and picked; Enter then saves.
    note.press_sequentially("Please call her @be")
    suggestion = composer.locator("#composer-note-mentions li", has_text="@bea")
    expect(suggestion).to_be_visible(timeout=TIMEOUT)
    note.press("Enter")
    expect(note).to_have_value("Please call her @bea ")
    note.press_sequentially("today")
    note.press("Enter")

    expect(page.locator("#thread .note")).to_contain_text("Please call her @bea today", timeout=TIMEOUT)
    expect(colleague.locator("#thread .note")).to_contain_text("Please call her @bea today", timeout=TIMEOUT)
    expect(page.get_by_label("Note for your team")).to_have_value("")
    saved = Note.objects.get(conversation=conversation)
    assert (saved.body, saved.author) == ("Please call her @bea today", ana)
    assert NoteMention.objects.filter(note=saved, user=bea).exists()
    assert not Message.objects.filter(conversation=conversation, direction=Direction.OUTBOUND).exists()

    # Back to Reply: the reply box again, the note's hidden.
    composer.get_by_role("tab", name="Reply").click()
    expect(reply).to_be_visible()
    expect(reply).to_be_focused()
    expect(page.get_by_label("Note for your team")).to_be_hidden()
    expect(composer).not_to_have_class(re.compile(r"\bis-note\b"))


def test_a_note_can_be_written_when_the_window_is_closed(inbox_servers, new_page):
    from datetime import timedelta

    from django.utils import timezone

    base = inbox_servers.url
    number = WhatsAppNumberFactory()
    org = number.organization
    ana = UserFactory(organization=org, username="ana")
    TeamFactory(organization=org, members=[ana], numbers=[number])
    conversation = ConversationFactory(organization=org, number=number, assignee=ana, contact__name="Maria",
                                       last_customer_message_at=timezone.now() - timedelta(days=3))

    page = new_page()
    sign_in(page, base, ana.username, DEFAULT_PASSWORD)
    page.goto(f"{base}/inbox/c/{conversation.pk}/")
    expect(page.get_by_label("Message", exact=True)).to_be_disabled()
    page.locator("#composer").get_by_role("tab", name="Note").click()
    note = page.get_by_label("Note for your team")
    expect(note).to_be_enabled()
    note.fill("Waiting for her to write again")
    page.locator("#composer").get_by_role("button", name="Save note").click()
    expect(page.locator("#thread .note")).to_contain_text("Waiting for her to write again", timeout=TIMEOUT)
    assert Note.objects.filter(conversation=conversation, body="Waiting for her to write again").exists()
