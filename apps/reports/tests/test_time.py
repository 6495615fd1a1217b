"""Time zones, daylight saving, business hours and percentiles."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.accounts.tests.factories import OrganizationFactory
from apps.conversations.models import Conversation
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.tests.factories import MessageFactory
from apps.reports import sections, sql
from apps.reports.params import ReportParams, business_hours_parse
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .dataset import utc

pytestmark = pytest.mark.django_db


def params_for(org, start, end, **kw):
    return ReportParams(organization_id=org.pk, tz=ZoneInfo(org.timezone), start_date=start, end_date=end,
                        now=utc(2024, 5, 1), **kw)


def test_lisbon_spring_forward_day_has_23_hours():
    # 2024-03-31: Lisbon moves from WET (UTC+0) to WEST (UTC+1) at 01:00 UTC. The local day
    # runs from 00:00Z to 23:00Z.
    org = OrganizationFactory(timezone="Europe/Lisbon")
    number = WhatsAppNumberFactory(organization=org)
    for at in (utc(2024, 3, 30, 23, 59, 59), utc(2024, 3, 31, 0), utc(2024, 3, 31, 22, 59, 59), utc(2024, 3, 31, 23)):
        conversation = ConversationFactory(organization=org, number=number, created_at=at)
        MessageFactory(conversation=conversation, timestamp=at)
    conversation = ConversationFactory(organization=org, number=number, created_at=utc(2024, 3, 31, 1, 30))
    MessageFactory(conversation=conversation, timestamp=utc(2024, 3, 31, 1, 30))  # 02:30 WEST

    day = params_for(org, date(2024, 3, 31), date(2024, 3, 31))
    assert day.start == utc(2024, 3, 31, 0) and day.end == utc(2024, 3, 31, 23)
    assert sections.summary(day)[0].rows[0] == ["conversations_opened", 3]
    three = params_for(org, date(2024, 3, 30), date(2024, 4, 1))
    assert [r[:2] for r in sections.volume(three)[0].rows] == [["2024-03-30", 1], ["2024-03-31", 3], ["2024-04-01", 1]]
    nonzero = [r for r in sections.heatmap(day)[0].rows if r[2]]
    # Sunday: 00:00 WET, 02:30 WEST (01:30Z), 23:59:59 WEST (22:59:59Z)
    assert nonzero == [[7, 0, 1], [7, 2, 1], [7, 23, 1]]


def test_sao_paulo_historical_dst_day():
    # 2018-11-04: São Paulo skipped from 00:00 to 01:00 (UTC-3 -> UTC-2); the day began at 03:00Z
    # and ended at 02:00Z on the 5th.
    org = OrganizationFactory(timezone="America/Sao_Paulo")
    number = WhatsAppNumberFactory(organization=org)
    for at in (utc(2018, 11, 4, 2, 59, 59), utc(2018, 11, 4, 3), utc(2018, 11, 5, 1, 59, 59), utc(2018, 11, 5, 2)):
        ConversationFactory(organization=org, number=number, created_at=at)
    day = params_for(org, date(2018, 11, 4), date(2018, 11, 4))
    assert sections.summary(day)[0].rows[0] == ["conversations_opened", 2]
    assert sections.volume(day)[0].rows == [["2018-11-04", 2, 0, 0, 0]]


def test_business_hours_skip_nights_and_weekends():
    org = OrganizationFactory(timezone="America/Sao_Paulo")
    number = WhatsAppNumberFactory(organization=org)
    # Friday 2025-03-14 17:00 local -> Monday 2025-03-17 10:00 local: 1 h Friday, 3 h Saturday,
    # nothing on Sunday, 1 h Monday = 18000 s (65 h elapsed).
    ConversationFactory(organization=org, number=number, created_at=utc(2025, 3, 14, 20),
                        status=Conversation.Status.RESOLVED, resolved_at=utc(2025, 3, 17, 13))
    # Saturday 11:00 -> Saturday 12:30 local, open on Saturdays 09:00-12:00: 3600 s (5400 elapsed).
    ConversationFactory(organization=org, number=number, created_at=utc(2025, 3, 15, 14),
                        status=Conversation.Status.RESOLVED, resolved_at=utc(2025, 3, 15, 15, 30))
    hours = business_hours_parse("mon-fri 09:00-18:00; sat 09:00-12:00")
    assert hours.week_seconds == 5 * 9 * 3600 + 3 * 3600
    params = params_for(org, date(2025, 3, 10), date(2025, 3, 23), hours=hours)
    (table,) = sections.response_times(params)
    assert table.columns[2] == "median_business_seconds"
    assert table.rows[2] == ["resolution", 2, 10800.0, 16560.0, 10800.0]
    elapsed = params_for(org, date(2025, 3, 10), date(2025, 3, 23))
    assert sections.response_times(elapsed)[0].rows[2] == ["resolution", 2, 119700.0, 211140.0, 119700.0]


def _stats_of(values):
    union = " UNION ALL ".join("SELECT %s AS k, %s AS v" for _ in values)
    params = [x for v in values for x in v]
    return sql.stats(union, params, keyed=True)


def _percentile_cont(values, p):
    values = sorted(values)
    pos = p * (len(values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (pos - lo) * (values[hi] - values[lo])


@pytest.mark.parametrize("values", [[5.0], [1.0, 2.0], [3.0, 1.0, 2.0], [float(v) for v in range(1, 12)],
                                    [10.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0]])
def test_percentiles_interpolate_as_percentile_cont(values):
    result = _stats_of([(1, v) for v in values] + [(2, 7.0), (2, None)])
    assert result[1].count == len(values)
    assert result[1].median == round(_percentile_cont(values, 0.5), 3)
    assert result[1].p90 == round(_percentile_cont(values, 0.9), 3)
    assert result[1].average == round(sum(values) / len(values), 3)
    assert result[2] == sql.Stats(count=1, median=7.0, p90=7.0, average=7.0)


def test_percentiles_of_nothing():
    assert sql.stats("SELECT 1 AS v WHERE 1 = 0", [])[None] == sql.Stats()


def test_waits_look_back_seven_days_before_the_range():
    from apps.messaging.models import Author, Direction
    from apps.messaging.tests.factories import OutboundMessageFactory

    org = OrganizationFactory(timezone="UTC")
    number = WhatsAppNumberFactory(organization=org)
    old = ConversationFactory(organization=org, number=number, created_at=utc(2025, 2, 20))
    MessageFactory(conversation=old, timestamp=utc(2025, 2, 20))  # 18 days before the range: beyond the horizon
    OutboundMessageFactory(conversation=old, timestamp=utc(2025, 3, 10, 1), author_type=Author.AGENT)
    recent = ConversationFactory(organization=org, number=number, created_at=utc(2025, 3, 5))
    MessageFactory(conversation=recent, timestamp=utc(2025, 3, 5))  # 5 days before: inside
    MessageFactory(conversation=recent, timestamp=utc(2025, 3, 6))
    OutboundMessageFactory(conversation=recent, timestamp=utc(2025, 3, 10), author_type=Author.BOT,
                           direction=Direction.OUTBOUND)
    params = params_for(org, date(2025, 3, 10), date(2025, 3, 16))
    assert sections.response_times(params)[0].rows[1] == ["customer_waiting", 1, 432000.0, 432000.0, 432000.0]


def test_fixed_offset_only_without_a_clock_change():
    lisbon = params_for(OrganizationFactory(timezone="Europe/Lisbon"), date(2024, 3, 25), date(2024, 4, 5))
    assert sections._fixed_offset(lisbon, lisbon.start, lisbon.end) is None  # 2024-03-31 WET -> WEST
    assert sections._fixed_offset(lisbon, utc(2024, 4, 1), utc(2024, 4, 30)) == 3600
    sao_paulo = params_for(OrganizationFactory(timezone="America/Sao_Paulo"), date(2025, 3, 10), date(2025, 3, 16))
    assert sections._fixed_offset(sao_paulo, sao_paulo.start, sao_paulo.end) == -3 * 3600


@pytest.mark.parametrize("zone, start, end", [("America/Sao_Paulo", date(2025, 3, 10), date(2025, 3, 23)),
                                              ("Europe/Lisbon", date(2024, 3, 11), date(2024, 4, 7))])
def test_business_hours_waits_the_same_with_a_fixed_offset(monkeypatch, zone, start, end):
    """The waiting time in business hours from `epoch + offset` (a zone without a clock
    change in sight) equals the one converting each instant (AT TIME ZONE)."""
    org = OrganizationFactory(timezone=zone)
    number = WhatsAppNumberFactory(organization=org)
    conversation = ConversationFactory(organization=org, number=number, created_at=utc(start.year, start.month, 14, 20))
    MessageFactory(conversation=conversation, timestamp=utc(start.year, start.month, 14, 20, 0, 30))
    from apps.messaging.models import Author
    from apps.messaging.tests.factories import OutboundMessageFactory

    for day, hour in ((17, 13), (18, 9), (20, 11)):
        OutboundMessageFactory(conversation=conversation, author_type=Author.AGENT,
                               timestamp=utc(start.year, start.month, day, hour, 15, 0))
        MessageFactory(conversation=conversation, timestamp=utc(start.year, start.month, day, hour + 2, 7, 12))
    OutboundMessageFactory(conversation=conversation, author_type=Author.AGENT,
                           timestamp=utc(start.year, start.month, 21, 16, 0, 1))
    hours = business_hours_parse("mon-fri 09:00-18:00; sat 09:00-12:00")
    params = params_for(org, start, end, hours=hours)
    with_offset = sections.response_times(params)[0].rows[1]
    assert with_offset[0] == "customer_waiting" and with_offset[1] == 4
    if zone == "America/Sao_Paulo":
        # Fri 17:00:30 -> Mon 10:15 = 3570 + 10800 (Sat) + 4500; Mon 12:07:12 -> Tue 06:15 =
        # 21168; Tue 08:07:12 -> Thu 08:15 = 2 x 32400; Thu 10:07:12 -> Fri 13:00:01 = 28368 + 14401.
        assert with_offset == ["customer_waiting", 4, 31968.5, 58190.7, 36901.75]
    monkeypatch.setattr(sections, "_fixed_offset", lambda *a: None)
    assert sections.response_times(params)[0].rows[1] == with_offset


@pytest.mark.parametrize("hours", [None, "mon-sun 00:00-24:00"])
def test_a_reply_before_its_conversation_opened_never_counts_negative(hours):
    """Times recorded by different clocks (Meta's message times, our rows' creation,
    imported history) can put an answer or a resolution before the conversation was
    opened: it counts as 0 s, never a negative duration, in every figure built on it."""
    from apps.accounts.tests.factories import UserFactory

    org = OrganizationFactory(timezone="UTC")
    number = WhatsAppNumberFactory(organization=org)
    agent = UserFactory(organization=org, username="ana")
    opened = utc(2025, 3, 12, 10)
    # Answered 18 minutes "before" it was opened, resolved an hour "before" it.
    ConversationFactory(organization=org, number=number, assignee=agent, created_at=opened,
                        first_response_at=opened - timedelta(minutes=18), status=Conversation.Status.RESOLVED,
                        resolved_at=opened - timedelta(hours=1))
    # Answered 600 s after it opened, resolved 1200 s after.
    ConversationFactory(organization=org, number=number, assignee=agent, created_at=opened,
                        first_response_at=opened + timedelta(seconds=600), status=Conversation.Status.RESOLVED,
                        resolved_at=opened + timedelta(seconds=1200))
    params = params_for(org, date(2025, 3, 10), date(2025, 3, 16),
                        hours=business_hours_parse(hours) if hours else None)
    rows = sections.response_times(params)[0].rows
    assert rows[0] == ["first_response", 2, 300.0, 540.0, 300.0]
    assert rows[2] == ["resolution", 2, 600.0, 1080.0, 600.0]
    (agents,) = sections.agents(params)
    assert [row[1:] for row in agents.rows if row[0] == agent.pk] == [[agent.name, 0, 0, 300.0, 600.0, 0]]
