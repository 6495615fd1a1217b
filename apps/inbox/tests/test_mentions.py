"""@mentions in notes: the mentioned colleague (of the same organisation only) gets an
unread count on the Mentions view, the view lists the conversations they were
mentioned in, and opening one marks its mentions read, live on their other pages."""

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.worlds import build_world
from apps.conversations import selectors, services
from apps.conversations.models import Conversation, NoteMention
from apps.inbox.tests.helpers import client_for
from apps.realtime import groups

pytestmark = pytest.mark.django_db


def note(world, conversation, body, *, author=None):
    return services.note_create(conversation=conversation, author=author or world.agent, body=body)


def badge(response) -> int:
    assert response.status_code == 200
    return response.context["unread_mentions"]


def row_ids(response) -> list[int]:
    return [row.conversation.pk for row in response.context["rows"]]


def test_a_mention_is_unread_for_the_colleague_only(world):
    note(world, world.unassigned, "@colleague can you take this one?")
    assert badge(client_for(world.colleague).get("/inbox/")) == 1
    assert badge(client_for(world.agent).get("/inbox/")) == 0
    html = client_for(world.colleague).get("/inbox/").content.decode()
    assert 'data-mentions-count>1<' in html


def test_mentioning_oneself_notifies_nobody(world, published, django_capture_on_commit_callbacks):
    """An author who names themselves (a note to self, a pasted signature) gets no
    unread mention and no mention event; a colleague named beside them still does."""
    with django_capture_on_commit_callbacks(execute=True):
        note(world, world.unassigned, f"@{world.agent.username} remember this, @colleague too")
    assert badge(client_for(world.agent).get("/inbox/")) == 0
    assert badge(client_for(world.colleague).get("/inbox/")) == 1
    mentioned = [g for e, d, g in published if e == "note.created" and d.get("mentioned")]
    assert mentioned == [[groups.user(world.colleague.pk)]]


def test_each_mention_tells_the_colleague_how_many_are_unread(world, published, django_capture_on_commit_callbacks):
    """The page sets its count from the event (a catch-up may replay an event the page
    was rendered with: adding to the count would count it twice)."""
    with django_capture_on_commit_callbacks(execute=True):
        note(world, world.unassigned, "@colleague one")
        note(world, world.unassigned, "@colleague two")
    mentions = [(d["unread_mentions"], g) for e, d, g in published if e == "note.created" and d.get("mentioned")]
    assert mentions == [(1, [groups.user(world.colleague.pk)]), (2, [groups.user(world.colleague.pk)])]


def test_the_mentions_view_lists_where_the_user_was_mentioned_marked_unread(world):
    note(world, world.unassigned, "@colleague please check")
    note(world, world.mine, "a note that mentions nobody")
    response = client_for(world.colleague).get("/inbox/?view=mentions&status=any")
    assert row_ids(response) == [world.unassigned.pk]
    assert "You were mentioned" in response.content.decode()
    assert row_ids(client_for(world.agent).get("/inbox/?view=mentions&status=any")) == []


def test_opening_the_conversation_marks_its_mentions_read_and_says_so_live(
        world, published, django_capture_on_commit_callbacks):
    note(world, world.unassigned, "@colleague first")
    note(world, world.unassigned, "@colleague second")
    note(world, world.colleagues, "@colleague elsewhere", author=world.supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        page = client_for(world.colleague).get(reverse("inbox:conversation", args=[world.unassigned.pk]))
    assert badge(page) == 1  # the other conversation's mention is still unread
    assert NoteMention.objects.filter(user=world.colleague, read_at__isnull=True).count() == 1
    read = [(data, targets) for event, data, targets in published if event == "mentions.read"]
    assert read == [({"conversation_id": world.unassigned.pk, "unread_mentions": 1}, [groups.user(world.colleague.pk)])]
    # The row stays in the Mentions view, no longer marked unread.
    response = client_for(world.colleague).get("/inbox/?view=mentions&status=any")
    assert set(row_ids(response)) == {world.unassigned.pk, world.colleagues.pk}
    marked = {row.conversation.pk: row.conversation.unread_mention for row in response.context["rows"]}
    assert marked == {world.unassigned.pk: False, world.colleagues.pk: True}


def test_a_mention_arriving_while_the_conversation_is_open_is_read_by_the_read_call(world, published,
                                                                                     django_capture_on_commit_callbacks):
    note(world, world.colleagues, "@colleague look", author=world.supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.colleague).post(reverse("inbox:read", args=[world.colleagues.pk]))
    assert response.status_code == 200
    assert not NoteMention.objects.filter(user=world.colleague, read_at__isnull=True).exists()
    assert [d for e, d, _g in published if e == "mentions.read"] == [
        {"conversation_id": world.colleagues.pk, "unread_mentions": 0}]
    # Nothing left to mark: nothing is announced again.
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client_for(world.colleague).post(reverse("inbox:read", args=[world.colleagues.pk]))
    assert not [e for e, _d, _g in published if e == "mentions.read"]


def test_a_mention_never_reaches_another_organisation(world, published, django_capture_on_commit_callbacks):
    world.foreign_user.username = "zed"
    world.foreign_user.save(update_fields=["username"])
    with django_capture_on_commit_callbacks(execute=True):
        created = note(world, world.unassigned, "@zed and @colleague, have a look")
    assert list(created.mentions.all()) == [world.colleague]
    assert not NoteMention.objects.filter(user=world.foreign_user).exists()
    assert all(groups.user(world.foreign_user.pk) not in targets for _e, _d, targets in published)
    assert badge(client_for(world.foreign_user).get("/inbox/")) == 0
    assert row_ids(client_for(world.foreign_user).get("/inbox/?view=mentions&status=any")) == []
    # And a foreign user never sees our conversation through the Mentions view's row partial.
    row = client_for(world.foreign_user).get(
        reverse("inbox:row", args=[world.unassigned.pk]) + "?view=mentions&status=any")
    assert row.status_code == 204


def test_a_mention_in_a_conversation_the_user_no_longer_sees_is_neither_counted_nor_listed(world):
    note(world, world.unassigned, "@colleague yours?")
    other = UserFactory(organization=world.org, username="other")
    Conversation.objects.filter(pk=world.unassigned.pk).update(assignee=other)
    assert selectors.mention_unread_count(user=world.colleague) == 0
    assert row_ids(client_for(world.colleague).get("/inbox/?view=mentions&status=any")) == []


def test_mentions_stored_before_they_could_be_unread_are_read():
    """Migration 0008 takes the mentions stored before it as read."""
    from importlib import import_module

    from django.apps import apps as global_apps

    world = build_world()
    created = services.note_create(conversation=world.unassigned, author=world.agent, body="@colleague old")
    assert NoteMention.objects.get(note=created).read_at is None
    import_module("apps.conversations.migrations.0008_note_mention_read").existing_mentions_read(global_apps, None)
    assert NoteMention.objects.get(note=created).read_at is not None


def test_opening_a_conversation_with_no_unread_mention_writes_nothing_to_mentions(world):
    """The count comes first; the mentions are marked read only when any is unread."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    note(world, world.unassigned, "@colleague read already")
    client = client_for(world.colleague)
    url = reverse("inbox:conversation", args=[world.unassigned.pk])
    assert badge(client.get(url)) == 0
    with CaptureQueriesContext(connection) as queries:
        assert badge(client.get(url)) == 0
    assert not [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "conversations_note_mentions"')]
    note(world, world.unassigned, "@colleague once more")
    with CaptureQueriesContext(connection) as queries:
        assert badge(client.get(url)) == 0
    assert [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "conversations_note_mentions"')]
    assert not NoteMention.objects.filter(user=world.colleague, read_at__isnull=True).exists()
