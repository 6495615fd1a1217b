"""The composer's Note tab: beside "Reply", a private note written where the agent
types, saved by the notes' one service (mentions notify, the thread gets it live), and
answered with the composer's own note form (emptied, or with the reason and the text)."""

import json
import re

import pytest
from django.urls import reverse

from apps.conversations.models import Note, NoteMention
from apps.inbox.tests.helpers import client_for

pytestmark = pytest.mark.django_db


def tag(html: str, pattern: str) -> str:
    """The opening tag in `html` whose attributes match `pattern` (one only)."""
    found = re.findall(r"<[a-z]+\b[^>]*" + pattern + r"[^>]*>", html)
    assert len(found) == 1, (pattern, found)
    return found[0]


def test_the_composer_has_reply_and_note_tabs_with_the_note_form_hidden(world):
    html = client_for(world.agent).get(reverse("inbox:conversation", args=[world.mine.pk])).content.decode()
    composer = html[html.index('id="composer"'):]
    tabs = re.findall(r'<button type="button" role="tab"[^>]*aria-selected="(\w+)"[^>]*data-composer-mode="(\w+)"'
                      r"[^>]*>([^<]*)</button>", composer)
    assert tabs == [("true", "reply", "Reply"), ("false", "note", "Note")]
    panel = tag(composer, r'id="composer-note"')
    assert 'role="tabpanel"' in panel and " hidden" in panel
    form = tag(composer, r'id="composer-note-form"')
    assert f'hx-post="{reverse("inbox:note_add", args=[world.mine.pk])}"' in form
    assert '<input type="hidden" name="form" value="composer">' in composer
    assert "data-composer-note-body" in composer
    # The reply form stays what it was, and shown.
    assert " hidden" not in tag(composer, r'id="composer-form"')


def test_a_note_from_the_composer_is_saved_mentions_notify_and_the_form_comes_back_empty(
        world, published, django_capture_on_commit_callbacks):
    url = reverse("inbox:note_add", args=[world.unassigned.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.agent).post(url, {"form": "composer", "body": "@colleague call her back"},
                                                HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content.decode()
    note = Note.objects.get(conversation=world.unassigned)
    assert (note.body, note.author) == ("@colleague call her back", world.agent)
    assert NoteMention.objects.filter(note=note, user=world.colleague).exists()
    # The composer's form, emptied (not the panel's, which has ids of its own).
    html = response.content.decode()
    tag(html, r'id="composer-note-form"')
    assert re.search(r"<textarea[^>]*data-composer-note-body[^>]*></textarea>", html, re.DOTALL)
    assert "panel-note-form" not in html
    assert json.loads(response["HX-Trigger"]) == {"note:created": {"conversation_id": world.unassigned.pk}}
    # Live, as a panel note: the thread's event, with the colleague's mention.
    created = [(d["id"], d.get("mentioned")) for e, d, g in published if e == "note.created"]
    assert (note.pk, True) in created


def test_an_empty_note_from_the_composer_keeps_the_tab_with_the_reason(world):
    url = reverse("inbox:note_add", args=[world.mine.pk])
    response = client_for(world.agent).post(url, {"form": "composer", "body": "   "})
    assert response.status_code == 422
    html = response.content.decode()
    tag(html, r'id="composer-note-form"')
    assert 'class="composer-error"' in html
    assert 'aria-invalid="true"' in tag(html, r"data-composer-note-body")
    assert not Note.objects.filter(conversation=world.mine).exists()


def test_the_panel_note_form_answers_as_before(world):
    url = reverse("inbox:note_add", args=[world.mine.pk])
    for data in ({"body": "from the panel"}, {"form": "elsewhere", "body": "an unknown form: the panel's"}):
        html = client_for(world.agent).post(url, data).content.decode()
        assert 'class="panel-note-form"' in html and "composer-note-form" not in html
    assert Note.objects.filter(conversation=world.mine).count() == 2


def test_a_conversation_the_agent_cannot_see_takes_no_note(world):
    url = reverse("inbox:note_add", args=[world.foreign.pk])
    response = client_for(world.agent).post(url, {"form": "composer", "body": "hello"})
    assert response.status_code == 404
    assert not Note.objects.exists()
