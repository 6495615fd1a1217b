"""The partials live updates fetch: the thread's title as it is now."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.worlds import build_world, fast_passwords  # noqa: F401
from apps.conversations.models import Contact, Conversation

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


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
