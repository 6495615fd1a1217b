"""Every whole page an agent loads costs a constant, small number of queries: the list,
the search, the next rows, a conversation, its older messages and the two side panels,
as an agent and as a supervisor. More conversations, messages, reactions, files, notes,
labels and earlier conversations of the contact add none (the list page's views:
test_views.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.conversations.models import Conversation
from apps.conversations.tests.factories import (
    ConversationFactory,
    LabelFactory,
    NoteFactory,
)
from apps.inbox.tests.helpers import client_for
from apps.media.tests.factories import StoredMediaFactory
from apps.messaging.models import Message, Reaction, Status
from apps.messaging.selectors.thread import cursor_encode
from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

# Queries each page costs at most, whoever asks (an agent pays for their teams where
# the access rule needs them; a supervisor for the actions panel's people and teams).
# The thread's pages include the one query of a quoted message older than the page.
PAGES = {
    # The list's counts per view (with the unread mentions) and the account's
    # restrictions cost one query each on the pages that show them; the contact's block
    # comes with the conversation.
    "list": 7,
    "search": 7,
    "next rows": 5,
    "conversation": 14,
    "older messages": 8,
    "actions panel": 9,
    "contact panel": 7,
}


def _start(world) -> Message:
    """The open conversation's first message, which the replies quote, and a page of
    messages after it: the quoted message is never on the page (its one query is paid
    whatever the rows)."""
    original = MessageFactory(conversation=world.mine, text="the original", type="image", content={})
    StoredMediaFactory(message=original, kind="image", mime_type="image/jpeg")
    for i in range(55):
        MessageFactory(conversation=world.mine, text=f"filler {i}")
    return original


def _grow(world, n: int, original: Message) -> None:
    """n more of everything the pages show: conversations in the list (labelled, with
    a message matching the search), messages with files, replies, reactions and notes in
    the open conversation, earlier conversations of its contact."""
    for i in range(n):
        other = ConversationFactory(organization=world.org, number=world.number, assignee=world.agent,
                                    contact__organization=world.org, contact__name=f"Ana {i}")
        other.labels.add(world.label, LabelFactory(organization=world.org))
        MessageFactory(conversation=other, text=f"parcel {i}")
        ConversationFactory(organization=world.org, number=world.number, assignee=world.agent,
                            contact=world.mine.contact, status="resolved")
        message = MessageFactory(conversation=world.mine, text=f"parcel here {i}", type="image", content={})
        StoredMediaFactory(message=message, kind="image", mime_type="image/jpeg")
        reply = OutboundMessageFactory(conversation=world.mine, text=f"r{i}", reply_to=original,
                                       reply_to_wamid=original.wamid, author=world.agent, status=Status.READ,
                                       wamid=f"wamid.PAGE{world.mine.pk}-{n}-{i}")
        Reaction.objects.create(organization=world.org, number=world.number, target_wamid=reply.wamid,
                                message=reply, direction="in", reactor=world.mine.contact.wa_id, emoji="👍")
        NoteFactory(conversation=world.mine, author=world.colleague, body=f"note {i}")
    world.mine.labels.add(world.label)


def _urls(world) -> dict[str, str]:
    pk = world.mine.pk
    newest = Message.objects.filter(conversation=world.mine).order_by("-timestamp", "-id").first()
    return {
        "list": reverse("inbox:list") + "?view=all",
        "search": reverse("inbox:list") + "?view=all&q=parcel",
        "next rows": reverse("inbox:rows") + "?view=all&after=" + _after(world),
        "conversation": reverse("inbox:conversation", args=[pk]),
        "older messages": reverse("inbox:messages", args=[pk]) + "?before=" + cursor_encode(newest),
        "actions panel": reverse("inbox:panel_actions", args=[pk]),
        "contact panel": reverse("inbox:panel_contact", args=[pk]),
    }


def _after(world) -> str:
    from apps.conversations.selectors import InboxFilter
    from apps.messaging.selectors.search import conversation_inbox_page

    return conversation_inbox_page(user=world.supervisor, filters=InboxFilter(view="all"), limit=1).after


def _costs(client, urls) -> dict[str, int]:
    costs = {}
    for name, url in urls.items():
        assert client.get(url).status_code == 200, name  # the first open marks read: steady state next
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, name
        costs[name] = len(queries)
    return costs


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_every_page_costs_the_same_few_queries_with_more_rows(world, role):
    client = client_for(getattr(world, role))
    original = _start(world)
    _grow(world, 2, original)
    small = _costs(client, _urls(world))
    _grow(world, 25, original)
    large = _costs(client, _urls(world))

    assert large == small
    assert all(large[name] <= most for name, most in PAGES.items()), str(large)


def test_a_first_open_of_an_unread_conversation_costs_no_more_queries_than_opening_it_again(world):
    """Marking the conversation read is one statement, whatever is unread (it was a
    look, then a transaction of two UPDATEs and the organisation's settings)."""
    client = client_for(world.agent)
    _start(world)
    url = reverse("inbox:conversation", args=[world.mine.pk])
    client.get(url)
    MessageFactory.create_batch(3, conversation=world.mine)
    Conversation.objects.filter(pk=world.mine.pk).update(unread_count=3)
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    assert Message.objects.filter(conversation=world.mine, direction="in", read_at__isnull=True).count() == 0
    assert Conversation.objects.get(pk=world.mine.pk).unread_count == 0
    with CaptureQueriesContext(connection) as again:
        assert client.get(url).status_code == 200
    # The first open's one more is the labels of the conversation's live event (its
    # unread count changed); the page itself reads them only where it shows them.
    extra = [q["sql"] for q in first.captured_queries if q["sql"] not in {a["sql"] for a in again.captured_queries}]
    assert len(first) == len(again) + 1, [q["sql"][:80] for q in first]
    assert any('"conversations_label"' in sql for sql in extra), extra

