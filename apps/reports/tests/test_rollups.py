"""The roll-ups (MessageHour, ReplyWait) give the live figures: rebuilt idempotently,
after late-arriving messages and after status changes."""

from datetime import timedelta

import pytest
from django.conf import settings

from apps.messaging.models import Author, Message, Status
from apps.reports import sections
from apps.reports.models import AuthorHour, MessageHour, ReplyWait, RollupState
from apps.reports.services import SETTLE, rollup_refresh

from .dataset import _conv, _in, _out, build, utc

pytestmark = pytest.mark.django_db


def report(params, ctx=None):
    tables = []
    for section in sections.SECTIONS:
        tables.extend(t.as_dict() for t in section(params, ctx))
    return tables


def live(params):
    """The report without roll-ups (a conversation-free copy of the state)."""
    state = list(RollupState.objects.values("organization_id", "until", "checked_at"))
    RollupState.objects.all().delete()
    try:
        return report(params)
    finally:
        RollupState.objects.bulk_create(RollupState(**row) for row in state)


def snapshot(org):
    hours = sorted(MessageHour.objects.filter(organization=org).values_list(
        "hour", "direction", "type", "author_type", "template_name", "template_language", "error_code", "error_title",
        "messages", "sent", "delivered", "read", "failed", "pending"), key=repr)
    waits = sorted(ReplyWait.objects.filter(organization=org).values_list(
        "conversation_id", "reply_id", "reply_at", "started_at", "seconds"))
    authors = sorted(AuthorHour.objects.filter(organization=org).values_list(
        "hour", "author_type", "author_id", "conversation_id", "messages"), key=repr)
    return hours, waits, authors


@pytest.fixture
def data():
    d = build()
    # A turn that began before the 7-day lookback: measured from its first customer
    # message inside the horizon (03-05), as live; one with none there is left out.
    c1 = d.c["c1"]
    _in(c1, utc(2025, 3, 1, 12))
    c7 = _conv(d.org, d.n1, utc(2025, 2, 20))
    _in(c7, utc(2025, 2, 20, 12))
    _in(c7, utc(2025, 3, 5, 12))
    _out(c7, utc(2025, 3, 12, 12), author=d.ann)
    c8 = _conv(d.org, d.n2, utc(2025, 2, 20))
    _in(c8, utc(2025, 2, 20, 12))
    _out(c8, utc(2025, 3, 12, 12), author_type=Author.BOT)
    return d


@pytest.mark.parametrize("now", [utc(2025, 3, 20), utc(2025, 3, 12, 12, 30), utc(2025, 3, 10, 4)])
def test_rolled_up_report_equals_live(data, now):
    rollup_refresh(organization_id=data.org.pk, now=now)
    params = data.params()
    assert sections.rolled_until(params) == min(now.replace(minute=0), params.end)
    rolled = report(params)
    assert rolled == live(params)
    waiting = next(t for t in rolled if t["report"] == "response-times")["rows"][1]
    assert waiting[0] == "customer_waiting" and waiting[1] == 7  # c1 x2, c2 x2, c3, c4, c7 (from 03-05); not c8


def test_filters_and_odd_zones_read_live(data):
    rollup_refresh(organization_id=data.org.pk, now=utc(2025, 3, 20))
    assert sections.rolled_until(data.params(label_id=data.label.pk)) is None
    data.org.timezone = "Asia/Kolkata"  # UTC+05:30: local hours are not UTC hours
    data.org.save()
    from zoneinfo import ZoneInfo

    from apps.reports.params import ReportParams

    kolkata = ReportParams(organization_id=data.org.pk, tz=ZoneInfo("Asia/Kolkata"), start_date=data.params().start_date,
                           end_date=data.params().end_date, now=utc(2025, 3, 20))
    assert sections.rolled_until(kolkata) is None


def test_rebuild_is_idempotent(data):
    now = utc(2025, 3, 20)
    rollup_refresh(organization_id=data.org.pk, now=now)
    first = snapshot(data.org)
    assert first[0] and first[1] and first[2]
    rollup_refresh(organization_id=data.org.pk, now=now)
    assert snapshot(data.org) == first
    rollup_refresh(organization_id=data.org.pk, now=now, full=True)
    assert snapshot(data.org) == first
    assert sum(row[8] for row in first[0]) == Message.objects.filter(
        organization=data.org, timestamp__lt=now).count()


def test_late_arriving_messages_are_rolled_up(data):
    now = utc(2025, 3, 20)
    rollup_refresh(organization_id=data.org.pk, now=now)
    params = data.params()
    # Stored now with a timestamp far before the settle window: a customer message
    # that starts an earlier turn of c2 and a reply in c4.
    assert utc(2025, 3, 11, 12) < now - SETTLE
    _in(data.c["c2"], utc(2025, 3, 11, 12, 50))
    _out(data.c["c4"], utc(2025, 3, 12, 10, 5), author=data.ann)
    assert report(params) != live(params)  # not yet rolled up
    rollup_refresh(organization_id=data.org.pk, now=now + timedelta(minutes=5))
    assert report(params) == live(params)
    c2_wait = ReplyWait.objects.get(conversation=data.c["c2"], reply_at=utc(2025, 3, 11, 13, 1))
    assert c2_wait.started_at == utc(2025, 3, 11, 12, 50)


def test_status_change_after_roll_up(data):
    now = utc(2025, 3, 14, 12)
    rollup_refresh(organization_id=data.org.pk, now=now)
    params = data.params()
    # c3's notification (03-13 12:00, within the settle window) is read later, as
    # status_apply writes it (a queryset update, no signal).
    Message.objects.filter(conversation=data.c["c3"], timestamp=utc(2025, 3, 13, 12)).update(
        status=Status.READ, read_at=utc(2025, 3, 14, 12, 30))
    rollup_refresh(organization_id=data.org.pk, now=now + timedelta(hours=1))
    rolled = report(params)
    assert rolled == live(params)
    funnel = dict((row[0], row[1]) for row in next(t for t in rolled if t["report"] == "delivery")["rows"])
    assert funnel["read"] == 5  # c1, c2 x2, c4 and now c3


def test_refresh_is_scheduled():
    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "reports.refresh_rollups"]
    assert entries and entries[0]["schedule"] <= 3600


def figures(tables, name):
    return {row[0]: row[1:] for row in next(t for t in tables if t["report"] == name)["rows"]}


def test_activity_after_the_refresh_shows_at_once(data):
    """Everything after the last refresh is read live: a new conversation the bot
    answers and hands off, another the bot answers and that is resolved (contained),
    an agent's message in a contained conversation, a customer's message and a reply,
    and a resolution. The report equals the one computed from raw rows."""
    from apps.conversations.models import Conversation

    from .dataset import _audit

    now = utc(2025, 3, 14, 12)
    rollup_refresh(organization_id=data.org.pk, now=now)
    params = data.params()
    before = report(params)
    assert before == live(params)

    c9 = _conv(data.org, data.n1, utc(2025, 3, 14, 12, 5))
    _in(c9, utc(2025, 3, 14, 12, 5))
    _out(c9, utc(2025, 3, 14, 12, 6), author_type=Author.BOT)
    _audit(c9, "bot.handoff", utc(2025, 3, 14, 12, 7), reason="asked for a human")
    c10 = _conv(data.org, data.n2, utc(2025, 3, 14, 12, 10), status=Conversation.Status.RESOLVED,
                resolved_at=utc(2025, 3, 14, 12, 20))
    _in(c10, utc(2025, 3, 14, 12, 10))
    _out(c10, utc(2025, 3, 14, 12, 11), author_type=Author.BOT)
    _audit(c10, "conversation.status_changed", utc(2025, 3, 14, 12, 20), **{"from": "open", "to": "resolved"})
    _out(data.c["c3"], utc(2025, 3, 14, 12, 30), author=data.bob)  # c3 is no longer contained
    _in(data.c["c4"], utc(2025, 3, 14, 12, 40))
    _out(data.c["c4"], utc(2025, 3, 14, 12, 50), author=data.ann)
    Conversation.objects.filter(pk=data.c["c2"].pk).update(status=Conversation.Status.RESOLVED,
                                                          resolved_at=utc(2025, 3, 14, 13))
    _audit(data.c["c2"], "conversation.status_changed", utc(2025, 3, 14, 13), **{"from": "open", "to": "resolved"})

    after = report(params)
    assert after == live(params)
    old, new = figures(before, "summary"), figures(after, "summary")
    assert new["conversations_opened"][0] == old["conversations_opened"][0] + 2
    assert new["conversations_resolved"][0] == old["conversations_resolved"][0] + 2  # c10, c2
    old, new = figures(before, "bot"), figures(after, "bot")
    assert new["bot_conversations"][0] == old["bot_conversations"][0] + 2
    assert new["handed_off"][0] == old["handed_off"][0] + 1
    assert new["contained"][0] == old["contained"][0]  # c10 in, c3 out
    old, new = figures(before, "response-times"), figures(after, "response-times")
    assert new["customer_waiting"][0] == old["customer_waiting"][0] + 3  # c9 60 s, c10 60 s, c4 600 s
    assert new["resolution"][0] == old["resolution"][0] + 2
    old, new = figures(before, "messages-by-author"), figures(after, "messages-by-author")
    assert new["received"][1] == old["received"][1] + 3
    old = {row[1]: row for row in next(t for t in before if t["report"] == "agents")["rows"]}
    new = {row[1]: row for row in next(t for t in after if t["report"] == "agents")["rows"]}
    assert new[data.bob.name][2:4] == [old[data.bob.name][2] + 1, old[data.bob.name][3] + 1]  # c3 handled


def test_facts_follow_the_refresh(data):
    """ConversationFacts holds the last bot and agent message before the watermark,
    and a refresh after new messages moves them."""
    from apps.reports.models import ConversationFacts

    rollup_refresh(organization_id=data.org.pk, now=utc(2025, 3, 11, 14))
    c2 = data.c["c2"]
    facts = ConversationFacts.objects.get(conversation=c2)
    assert (facts.bot_last_at, facts.agent_last_at) == (utc(2025, 3, 11, 13, 1), utc(2025, 3, 11, 13, 35))
    assert not ConversationFacts.objects.filter(conversation=data.c["c5"]).exists()  # only customers wrote
    rollup_refresh(organization_id=data.org.pk, now=utc(2025, 3, 20))
    facts.refresh_from_db()
    assert facts.agent_last_at == utc(2025, 3, 11, 15)
    first = sorted(ConversationFacts.objects.values_list("conversation_id", "bot_last_at", "agent_last_at"))
    rollup_refresh(organization_id=data.org.pk, now=utc(2025, 3, 20), full=True)
    assert sorted(ConversationFacts.objects.values_list("conversation_id", "bot_last_at", "agent_last_at")) == first


def test_stored_wait_seconds(data):
    """ReplyWait keeps each wait's elapsed seconds; rows without them (written before
    the column existed) give the same report."""
    rollup_refresh(organization_id=data.org.pk, now=utc(2025, 3, 20))
    c2_wait = ReplyWait.objects.get(conversation=data.c["c2"], reply_at=utc(2025, 3, 11, 13, 1))
    assert c2_wait.seconds == 60.0
    params = data.params()
    rolled = report(params)
    assert rolled == live(params)
    ReplyWait.objects.update(seconds=None)
    assert report(params) == rolled
