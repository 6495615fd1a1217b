"""The list as a support team expects it: counts on Mine / Unassigned / All, the
orders (newest, oldest, waiting longest, priority), priority on rows, relative times,
phone numbers written as people read them, initials, and filters in sight."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone, translation

from apps.accounts.tests.worlds import build_world, fast_passwords  # noqa: F401
from apps.conversations.models import Conversation
from apps.conversations.tests.factories import ConversationFactory
from apps.inbox import presenters

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


def client_for(client, user):
    client.force_login(user)
    return client


def names(response) -> list[str]:
    return [row.name for row in response.context["rows"]]


def test_views_show_how_many_conversations_each_holds(client, world):
    ConversationFactory(
        organization=world.org, number=world.number, contact__name="Dan Unassigned"
    )
    ConversationFactory(
        organization=world.org,
        number=world.number,
        contact__name="Eve Pending",
        status="pending",
    )
    html = client_for(client, world.agent).get("/inbox/").content.decode()
    # The agent sees their own (1) and their teams' unassigned ones (2): 3 open in all.
    assert (
        '<span class="view-count" data-view-count="mine"><span class="visually-hidden">: </span>1</span>'
        in html
    )
    assert (
        'data-view-count="unassigned"><span class="visually-hidden">: </span>2</span>'
        in html
    )
    assert (
        'data-view-count="all"><span class="visually-hidden">: </span>3</span>' in html
    )
    pending = client.get("/inbox/?status=pending").content.decode()
    assert (
        'data-view-count="all"><span class="visually-hidden">: </span>1</span>'
        in pending
    )
    supervisor = client_for(client, world.supervisor).get("/inbox/").content.decode()
    assert (
        'data-view-count="all"><span class="visually-hidden">: </span>4</span>'
        in supervisor
    )


def test_the_list_sorts_newest_oldest_waiting_longest_and_by_priority(client, world):
    now = timezone.now()
    Conversation.objects.filter(pk=world.mine.pk).update(
        last_message_at=now - timedelta(hours=1),
        last_customer_message_at=now - timedelta(hours=5),
        priority=1,
    )
    Conversation.objects.filter(pk=world.colleagues.pk).update(
        last_message_at=now - timedelta(hours=3),
        last_customer_message_at=now - timedelta(hours=3),
        priority=4,
    )
    Conversation.objects.filter(pk=world.unassigned.pk).update(
        last_message_at=now - timedelta(hours=2),
        last_customer_message_at=now - timedelta(hours=4),
        priority=0,
    )
    client_for(client, world.supervisor)
    mine, colleagues, unassigned = "Alice Mine", "Bob Colleague", "Carol Unassigned"
    assert names(client.get("/inbox/")) == [mine, unassigned, colleagues]
    assert names(client.get("/inbox/?sort=oldest")) == [colleagues, unassigned, mine]
    assert names(client.get("/inbox/?sort=waiting")) == [mine, unassigned, colleagues]
    assert names(client.get("/inbox/?sort=priority")) == [colleagues, mine, unassigned]
    response = client.get("/inbox/?sort=priority")
    html = response.content.decode()
    assert (
        '<option value="priority" selected>' in html and 'data-sort="priority"' in html
    )
    # Links and live row checks keep the order.
    assert "sort=priority" in response.context["filter_query"]
    assert client.get("/inbox/?sort=sideways").status_code == 400
    rows = client.get("/inbox/rows/?sort=oldest&after=o1")
    assert [row.name for row in rows.context["rows"]] == [unassigned, mine]
    assert client.get("/inbox/rows/?sort=oldest&after=zz").status_code == 400


def test_sorted_pages_walk_every_conversation_once(client, world):
    for i in range(35):
        ConversationFactory(
            organization=world.org,
            number=world.number,
            contact__name=f"Bulk {i}",
            priority=i % 5,
        )
    client_for(client, world.supervisor)
    response = client.get("/inbox/?sort=priority")
    seen = [row.conversation.pk for row in response.context["rows"]]
    after = response.context["page"].after
    while after:
        response = client.get(f"/inbox/rows/?sort=priority&after={after}")
        seen += [row.conversation.pk for row in response.context["rows"]]
        after = response.context["page"].after
    assert len(seen) == len(set(seen)) == 38


def test_rows_show_priority_initials_and_a_formatted_phone(client, world):
    ConversationFactory(
        organization=world.org,
        number=world.number,
        priority=Conversation.Priority.URGENT,
        contact__name="",
        contact__profile_name="",
        contact__wa_id="5511987654321",
    )
    html = client_for(client, world.supervisor).get("/inbox/").content.decode()
    assert '<span class="row-name">+55 11 98765-4321</span>' in html
    assert 'data-priority="urgent"' in html and "Urgent</span>" in html
    assert 'aria-hidden="true">AM</span>' in html  # Alice Mine
    # Filters are in sight, not folded.
    assert "<details" not in html.split('id="conversation-list"')[0]
    assert 'class="filters" role="group"' in html


def test_relative_times():
    now = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    with translation.override("en"), timezone.override(UTC):
        assert presenters.relative_time(now - timedelta(seconds=20), now=now) == "now"
        assert presenters.relative_time(now - timedelta(minutes=3), now=now) == "3 min"
        assert presenters.relative_time(now - timedelta(hours=5), now=now) == "10 a.m."
        assert presenters.relative_time(now - timedelta(days=1), now=now) == "Yesterday"
        assert presenters.relative_time(now - timedelta(days=3), now=now) == "Saturday"
        assert (
            presenters.relative_time(now - timedelta(days=30), now=now) == "02/08/2026"
        )
        assert presenters.relative_time(None, now=now) == ""
    with translation.override("pt-br"), timezone.override(UTC):
        assert presenters.relative_time(now - timedelta(days=1), now=now) == "Ontem"


def test_phone_and_initials():
    assert presenters.phone_display("5511987654321") == "+55 11 98765-4321"
    assert presenters.phone_display("14155550100") == "+1 415-555-0100"
    assert presenters.phone_display("123") == "+123"
    assert presenters.initials("Maria da Silva") == "MS"
    assert presenters.initials("ana") == "A"
    assert presenters.initials("+55 11 9876") == "#"
    assert presenters.avatar_hue("7") == presenters.avatar_hue("7")
