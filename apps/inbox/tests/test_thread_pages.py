"""The thread's pages: older messages by keyset, constant query costs, retry, read
marks and the one time format."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from apps.conversations.models import Conversation
from apps.conversations.tests.factories import NoteFactory
from apps.inbox.tests.helpers import partial
from apps.media.tests.factories import StoredMediaFactory
from apps.messaging.models import Message, Reaction, Status
from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory
from apps.simulator.testing import inject, simulator  # noqa: F401

pytestmark = pytest.mark.django_db


def test_older_messages_by_keyset(agent_client, world):
    Message.objects.filter(conversation=world.mine).delete()
    start = timezone.now() - timedelta(days=1)
    made = [MessageFactory(conversation=world.mine, text=f"msg {i:03d}", timestamp=start + timedelta(seconds=i)).pk
            for i in range(120)]
    html = agent_client.get(reverse("inbox:conversation", args=[world.mine.pk])).content.decode()
    assert "msg 119" in html and "msg 070" in html and "msg 069" not in html
    seen = [pk for pk in made if f'id="m{pk}"' in html]
    before = html.split('?before=')[1].split('"')[0]
    while before:
        response = agent_client.get(reverse("inbox:messages", args=[world.mine.pk]), {"before": before})
        assert response.status_code == 200
        chunk = response.content.decode()
        seen += [pk for pk in made if f'id="m{pk}"' in chunk]
        before = chunk.split('?before=')[1].split('"')[0] if "?before=" in chunk else None
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    assert agent_client.get(reverse("inbox:messages", args=[world.mine.pk]), {"before": "zz"}).status_code == 400


def _fill_thread(world, n):
    for i in range(n):
        message = MessageFactory(conversation=world.mine, text=f"m{i}", type="image" if i % 3 == 0 else "text")
        if i % 3 == 0:
            StoredMediaFactory(message=message, kind="image", mime_type="image/jpeg")
        reply = OutboundMessageFactory(conversation=world.mine, text=f"r{i}", reply_to=message,
                                       reply_to_wamid=message.wamid, author=world.agent, status=Status.READ,
                                       wamid=f"wamid.OUT{world.mine.pk}-{n}-{i}")
        Reaction.objects.create(organization=world.org, number=world.number, target_wamid=reply.wamid, message=reply,
                                direction="in", reactor=world.mine.contact.wa_id, emoji="👍")
        NoteFactory(conversation=world.mine, author=world.colleague, body=f"note {i}")


def test_thread_page_costs_a_constant_number_of_queries(agent_client, world):
    url = reverse("inbox:conversation", args=[world.mine.pk])
    _fill_thread(world, 2)
    agent_client.get(url)  # the first open marks messages read; measure steady state
    with CaptureQueriesContext(connection) as small:
        agent_client.get(url)
    _fill_thread(world, 20)
    agent_client.get(url)
    with CaptureQueriesContext(connection) as large:
        response = agent_client.get(url)
    assert response.status_code == 200 and response.content.decode().count('class="message ') >= 40
    assert len(large) == len(small), [q["sql"] for q in large.captured_queries]


def test_thread_selector_is_three_queries(world, django_assert_num_queries):
    from apps.messaging.selectors import thread as selectors

    _fill_thread(world, 15)
    with django_assert_num_queries(3):
        page = selectors.thread_page(conversation=world.mine)
        for item in page.items:
            if item.kind == "message":
                m = item.obj
                list(m.reactions.all())
                _ = m.author and m.author.name
                _ = m.reply_to and m.reply_to.text
                _ = getattr(m, "media", None)
            else:
                _ = item.obj.author and item.obj.author.name


def test_a_reply_quoting_a_message_older_than_the_page_gets_it_in_one_more_query(world, django_assert_num_queries):
    from apps.messaging.selectors import thread as selectors

    old = MessageFactory(conversation=world.mine, text="the original", type="image", content={})
    StoredMediaFactory(message=old, kind="image", mime_type="image/jpeg")
    for i in range(55):
        MessageFactory(conversation=world.mine, text=f"filler {i}")
    reply = OutboundMessageFactory(conversation=world.mine, text="about that", reply_to=old,
                                   reply_to_wamid=old.wamid, author=world.agent, status=Status.READ)
    with django_assert_num_queries(4):  # messages, reactions, notes, the quoted message
        page = selectors.thread_page(conversation=world.mine)
        shown = {item.obj.pk: item.obj for item in page.items if item.kind == "message"}
        assert old.pk not in shown and reply.pk in shown
        quoted = shown[reply.pk].reply_to
        assert (quoted.pk, quoted.text, quoted.media.kind) == (old.pk, "the original", "image")
        # A message with no reply has none, without a query.
        assert all(m.reply_to is None for pk, m in shown.items() if pk != reply.pk)


def test_message_partial_costs_a_fixed_number_of_queries(agent_client, world, django_assert_num_queries):
    """Session, the user with their organisation (time zone), the agent's teams with
    their numbers (access), the message with everything it shows, its reactions, the
    customer's block on the number (a blocked customer's later messages are flagged)."""
    plain = OutboundMessageFactory(conversation=world.mine, text="x", author=world.agent)
    original = MessageFactory(conversation=world.mine, type="image", text="", content={})
    StoredMediaFactory(message=original, kind="image", mime_type="image/jpeg")
    rich = OutboundMessageFactory(conversation=world.mine, text="y", author=world.agent, reply_to=original,
                                  reply_to_wamid=original.wamid, status=Status.READ, wamid="wamid.RICH")
    Reaction.objects.create(organization=world.org, number=world.number, target_wamid="wamid.RICH", message=rich,
                            direction="in", reactor=world.mine.contact.wa_id, emoji="👍")
    for message in (plain, original, rich):
        with django_assert_num_queries(6):
            partial(agent_client, message)


def test_retry_resends_through_the_simulator(client, world, simulator, published):
    message = OutboundMessageFactory(conversation=world.mine, text="try again", status=Status.FAILED,
                                     error_code=131000, error_title="Something went wrong")
    client.force_login(world.agent)
    response = client.post(reverse("inbox:retry", args=[message.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Status.SENT and message.wamid
    assert f'data-status="{Status.SENT}"' in response.content.decode()
    assert ("message.updated" in [e for e, _, _ in published])


def test_retry_refused_shows_why_and_changes_nothing(agent_client, world):
    message = OutboundMessageFactory(conversation=world.mine, text="no", status=Status.FAILED, error_code=131047,
                                     error_title="Re-engagement message")
    response = agent_client.post(reverse("inbox:retry", args=[message.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "sending it again would fail the same way" in response.content.decode()
    message.refresh_from_db()
    assert message.status == Status.FAILED and message.error_code == 131047
    response = agent_client.post(reverse("inbox:retry", args=[message.pk]))
    assert response.status_code == 302 and response["Location"].endswith(f"#m{message.pk}")


def test_read_marks_the_open_conversation_read(agent_client, world, client):
    MessageFactory(conversation=world.mine, text="while open")
    Conversation.objects.filter(pk=world.mine.pk).update(unread_count=1)
    response = agent_client.post(reverse("inbox:read", args=[world.mine.pk]))
    assert response.status_code == 200
    world.mine.refresh_from_db()
    assert world.mine.unread_count == 0
    assert agent_client.post(reverse("inbox:read", args=[world.foreign.pk])).status_code == 404
    assert agent_client.get(reverse("inbox:read", args=[world.mine.pk])).status_code == 405


def test_every_time_in_the_thread_is_written_one_way(agent_client, world):
    """Messages, notes and the window in the title: the language's time format, in the
    organisation's zone (English: 1:05 p.m.; Brazilian Portuguese: 13:05)."""
    import re

    world.org.timezone = "America/Sao_Paulo"
    world.org.save()
    at = datetime(2026, 3, 10, 16, 5, tzinfo=dt_timezone.utc)  # 13:05 in São Paulo
    Message.objects.filter(conversation=world.mine).delete()
    MessageFactory(conversation=world.mine, text="at five past one", timestamp=at)
    NoteFactory(conversation=world.mine, body="ten minutes later", created_at=at + timedelta(minutes=10))
    Conversation.objects.filter(pk=world.mine.pk).update(last_customer_message_at=timezone.now() - timedelta(hours=1))
    html = agent_client.get(reverse("inbox:conversation", args=[world.mine.pk])).content.decode()
    times = [chunk.split("<")[0].split(">", 1)[1] for chunk in html.split('<time datetime="')[1:]]
    assert times == ["1:05 p.m.", "1:15 p.m."], times
    assert re.search(r"Window open until [^<]* \d{1,2}:\d{2} [ap]\.m\.<", html)
    agent_client.cookies["django_language"] = "pt-br"
    html = agent_client.get(reverse("inbox:conversation", args=[world.mine.pk])).content.decode()
    times = [chunk.split("<")[0].split(">", 1)[1] for chunk in html.split('<time datetime="')[1:]]
    translation.activate("en")  # what the Portuguese request left active in this thread
    assert times == ["13:05", "13:15"], times
    assert "p.m." not in html and "a.m." not in html
