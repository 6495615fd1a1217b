"""The partials live updates and the composer fetch: the thread's title as it is now,
the preview of a buttons or list message being written; and the inbox's words in
Brazilian Portuguese where one and many differ."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from apps.conversations.models import Contact, Conversation
from apps.inbox.tests.helpers import client_for

pytestmark = pytest.mark.django_db


# --- The thread's title --------------------------------------------------------------------


def test_title_shows_the_contact_and_window_as_they_are_now(world):
    Conversation.objects.filter(pk=world.mine.pk).update(last_customer_message_at=None)
    client = client_for(world.agent)
    url = reverse("inbox:title", args=[world.mine.pk])
    html = client.get(url).content.decode()
    assert "Alice Mine" in html and "Window closed: templates only" in html
    # Renamed, and the customer wrote again: the same partial says so.
    Contact.objects.filter(pk=world.mine.contact_id).update(name="Alice Renamed")
    Conversation.objects.filter(pk=world.mine.pk).update(last_customer_message_at=timezone.now() - timedelta(minutes=1))
    html = client.get(url).content.decode()
    assert "Alice Renamed" in html and "Window open until" in html and "Alice Mine" not in html
    assert 'data-page-title="Alice Renamed · Inbox"' in html


def test_title_of_a_conversation_the_user_may_not_see_is_not_found(world):
    assert client_for(world.agent).get(reverse("inbox:title", args=[world.colleagues.pk])).status_code == 404
    assert client_for(world.agent).get(reverse("inbox:title", args=[world.foreign.pk])).status_code == 404


# --- Buttons / List: the preview ---------------------------------------------------------


def preview(world, data):
    response = client_for(world.agent).post(
        reverse("inbox:interactive_preview", args=[world.mine.pk]), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_preview_of_reply_buttons(world):
    html = preview(world, {"itype": "button", "iheader": "Delivery", "ibody": "When shall we come?",
                           "ifooter": "Reply below", "button_title": ["Morning", "Afternoon", ""]})
    assert "<strong>Delivery</strong>" in html and "When shall we come?" in html and "Reply below" in html
    assert '<ul class="i-buttons"><li>Morning</li><li>Afternoon</li></ul>' in html
    assert "composer-warning" not in html


def test_preview_of_a_list_with_its_rows(world):
    html = preview(world, {"itype": "list", "ibody": "Pick a slot", "list_button": "Slots",
                           "section_title": ["Morning"], "row_section": ["0", "0"],
                           "row_title": ["9:00", "10:00"], "row_description": ["early", ""]})
    assert "☰ Slots" in html and "<strong>9:00</strong>" in html and "early" in html and "<strong>10:00</strong>" in html
    assert '<details class="i-list" open>' in html


def test_preview_says_what_would_stop_the_send(world):
    html = preview(world, {"itype": "button", "ibody": "Choose", "button_title": ["Yes", "Yes"]})
    assert "Button titles must be unique." in html
    html = preview(world, {"itype": "button", "ibody": "", "button_title": ["", "", ""]})
    assert "composer-warning" not in html and "Type the message to see it here." in html


def test_preview_escapes_what_is_typed(world):
    html = preview(world, {"itype": "button", "ibody": "<script>x()</script>", "button_title": ["<b>Hi</b>"]})
    assert "<script>x()" not in html and "&lt;b&gt;Hi&lt;/b&gt;" in html


def test_preview_of_a_conversation_the_user_may_not_see_is_not_found(world):
    response = client_for(world.agent).post(reverse("inbox:interactive_preview", args=[world.foreign.pk]),
                                            {"itype": "button", "ibody": "x"})
    assert response.status_code == 404


# --- Brazilian Portuguese: one and many --------------------------------------------------------


@pytest.fixture
def back_to_english():
    """A request in Portuguese leaves the language active in this thread (LocaleMiddleware
    activates it and nothing resets it): the tests after this one run in English."""
    yield
    translation.activate("en")


def test_pt_br_one_unassigned_conversation_is_singular_and_the_view_plural(world, back_to_english):
    client = client_for(world.agent)
    client.cookies["django_language"] = "pt-br"
    html = client.get("/inbox/?view=unassigned").content.decode()
    assert ">Não atribuídas <span class=\"view-count\"" in html  # the view: the conversations nobody has
    row = client.get(reverse("inbox:row", args=[world.unassigned.pk]) + "?view=unassigned&status=open")
    assert '<span class="assignee none">Não atribuída</span>' in row.content.decode()
    panel = client.get(reverse("inbox:panel_actions", args=[world.unassigned.pk])).content.decode()
    assert "Não atribuída<" in panel and "Não atribuídas" not in panel
