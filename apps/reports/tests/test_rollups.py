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
        "conversation_id", "reply_id", "reply_at", "started_at"))
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
