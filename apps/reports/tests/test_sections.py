"""Every figure of the report on the fixed data set (dataset.py), computed by hand."""

import pytest

from apps.reports import sections
from apps.reports.params import business_hours_parse

from apps.reports.services import rollup_refresh

from .dataset import build, rows, utc

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["live", "rolled_up", "rolled_up_partly"])
def data(request):
    """The same figures live, from roll-ups of everything, and from roll-ups up to
    the middle of the range (the rest live)."""
    d = build()
    if request.param == "rolled_up":
        rollup_refresh(organization_id=d.org.pk, now=utc(2025, 3, 20))
    elif request.param == "rolled_up_partly":
        rollup_refresh(organization_id=d.org.pk, now=utc(2025, 3, 11, 13, 30))
    return d


def test_summary(data):
    assert rows(sections.summary(data.params()), "summary") == [
        ["conversations_opened", 4],  # c1, c2, c3, c5 (c4 before, c6 at the exclusive end)
        ["conversations_resolved", 3],  # c1, c3, c4 (c4 later reopened)
        ["conversations_reopened", 1],
        ["open_now", 4],  # c2, c4, c5, c6
        ["unassigned_now", 2],  # c5, c6
        ["unattended_now", 2],  # c5, c6
    ]


def test_volume_by_local_day(data):
    table = rows(sections.volume(data.params()), "volume")
    assert table == [
        ["2025-03-10", 1, 2, 3, 4],
        ["2025-03-11", 2, 1, 3, 5],  # c3 opened 23:00 local; its bot answer at 23:00:30 local
        ["2025-03-12", 0, 0, 1, 0],
        ["2025-03-13", 0, 0, 0, 1],
        ["2025-03-14", 0, 0, 0, 0],
        ["2025-03-15", 0, 0, 0, 0],
        ["2025-03-16", 1, 0, 1, 0],  # c5 at 23:59:59 local
    ]


def test_messages_by_type_and_author(data):
    by_type, by_author = sections.messages_report(data.params())
    assert by_type.rows == [
        ["received", "image", 1],
        ["received", "text", 7],
        ["sent", "template", 3],
        ["sent", "text", 7],
    ]
    assert by_author.rows == [
        ["received", "customer", 8],
        ["sent", "agent", 5],
        ["sent", "bot", 2],
        ["sent", "template", 1],
        ["sent", "notification", 2],
        ["sent", "system", 0],
        ["sent", "integration", 0],
        ["sent", "total", 10],
    ]


def test_response_times(data):
    (table,) = sections.response_times(data.params())
    assert table.columns == ["metric", "count", "median_seconds", "p90_seconds", "average_seconds"]
    assert table.rows == [
        # 600, 2100: median 1350, p90 600 + 0.9 * 1500
        ["first_response", 2, 1350.0, 1950.0, 1350.0],
        # 30, 60, 600, 1200, 1800, 16200: median (600+1200)/2, p90 rank 4.5 -> 1800 + 0.5 * 14400
        ["customer_waiting", 6, 900.0, 9000.0, 3315.0],
        # 7200 (c1), 600 (c3); c4 was reopened
        ["resolution", 2, 3900.0, 6540.0, 3900.0],
    ]


def test_response_times_in_business_hours(data):
    hours = business_hours_parse("mon-fri 09:00-18:00")
    (table,) = sections.response_times(data.params(hours=hours))
    assert table.rows == [
        ["first_response", 2, 1350.0, 1950.0, 1350.0],  # both inside Monday/Tuesday hours
        # c4's wait (Sunday 20:00 -> Monday 00:30) and c3's (Tuesday 23:00) count 0
        ["customer_waiting", 6, 330.0, 1500.0, 610.0],
        ["resolution", 2, 3600.0, 6480.0, 3600.0],
    ]


def test_agents(data):
    (table,) = sections.agents(data.params())
    assert table.rows == [
        [data.ann.pk, "ann", 3, 4, 600.0, 7200.0, 1],
        [data.bob.pk, "bob", 1, 2, 2100.0, None, 1],
    ]


def test_bot(data):
    (table,) = sections.bot(data.params())
    assert table.rows == [["bot_conversations", 2, None], ["contained", 1, 0.5], ["handed_off", 1, 0.5]]


def test_delivery_and_failures(data):
    funnel, failures = sections.delivery(data.params())
    assert funnel.rows == [
        ["total", 10, 1.0], ["sent", 8, 0.8], ["delivered", 7, 0.7], ["read", 4, 0.4], ["failed", 2, 0.2],
        ["pending", 0, 0.0],
    ]
    assert failures.rows == [[131026, "Message undeliverable", 1], [131047, "Re-engagement message", 1]]


def test_templates(data):
    per_template, per_category = sections.templates(data.params())
    assert per_template.rows == [
        ["shipping_notice", "pt_BR", "MARKETING", 2, 2, 1, 0, 1],
        ["order_update", "en_US", "UTILITY", 1, 0, 1, 1, 0],
    ]
    assert per_category.rows == [["MARKETING", 2], ["UTILITY", 1]]


def test_heatmap_in_local_time(data):
    (table,) = sections.heatmap(data.params())
    nonzero = [r for r in table.rows if r[2]]
    assert nonzero == [[1, 9, 3], [2, 10, 2], [2, 23, 1], [3, 7, 1], [7, 23, 1]]
    assert len(table.rows) == 7 * 24


def test_opt_outs(data):
    (table,) = sections.opt_outs(data.params())
    assert table.columns == ["day", "opted_out", "opted_in", "marketing_stopped", "marketing_resumed"]
    assert [r for r in table.rows if any(r[1:])] == [["2025-03-12", 1, 0, 0, 0]]


def test_filters(data):
    vip = data.params(label_id=data.label.pk)
    assert rows(sections.summary(vip), "summary")[:3] == [
        ["conversations_opened", 1], ["conversations_resolved", 1], ["conversations_reopened", 0],
    ]
    assert rows(sections.messages_report(vip), "messages-by-author")[0] == ["received", "customer", 3]
    bob = data.params(agent_id=data.bob.pk)
    assert rows(sections.summary(bob), "summary")[0] == ["conversations_opened", 1]
    assert rows(sections.agents(bob), "agents") == [[data.bob.pk, "bob", 1, 2, 2100.0, None, 1]]
    on_n2 = data.params(number_id=data.n2.pk)
    assert rows(sections.summary(on_n2), "summary") == [
        ["conversations_opened", 2], ["conversations_resolved", 1], ["conversations_reopened", 0],
        ["open_now", 1], ["unassigned_now", 1], ["unattended_now", 1],
    ]
    team = data.params(team_id=data.team.pk)
    assert rows(sections.response_times(team), "response-times")[0] == ["first_response", 1, 600.0, 600.0, 600.0]


@pytest.mark.parametrize("few", [0, 5000])
def test_filtered_report_is_the_same_by_ids_or_subquery(data, monkeypatch, few):
    """A filter with few conversations passes their ids as an array, one with many a
    subquery: the same figures either way."""
    expected = {}
    for name, kw in (("label", {"label_id": data.label.pk}), ("agent", {"agent_id": data.ann.pk}),
                     ("team", {"team_id": data.team.pk})):
        params = data.params(**kw)
        expected[name] = [t.as_dict() for s in sections.SECTIONS for t in s(params)]
    monkeypatch.setattr(sections, "FEW_CONVERSATIONS", few)
    for name, kw in (("label", {"label_id": data.label.pk}), ("agent", {"agent_id": data.ann.pk}),
                     ("team", {"team_id": data.team.pk})):
        params = data.params(**kw)
        assert [t.as_dict() for s in sections.SECTIONS for t in s(params)] == expected[name]


def test_range_edges(data):
    # Only the last day: c5 at 23:59:59 local is in, c6 at local midnight after is not.
    last = data.params(start=data.params().end_date)
    assert rows(sections.summary(last), "summary")[0] == ["conversations_opened", 1]
    # Only the day after: c6 only.
    after = data.params(start=data.params().end_date.replace(day=17), end=data.params().end_date.replace(day=17))
    assert rows(sections.summary(after), "summary")[0] == ["conversations_opened", 1]
    assert rows(sections.opt_outs(after), "opt-outs") == [["2025-03-17", 0, 1, 0, 0]]


def test_agents_in_business_hours(data):
    (table,) = sections.agents(data.params(hours=business_hours_parse("mon-fri 09:00-18:00")))
    assert table.columns[4:6] == ["median_first_response_business_seconds", "median_resolution_business_seconds"]
    assert table.rows == [
        [data.ann.pk, "ann", 3, 4, 600.0, 7200.0, 1],
        [data.bob.pk, "bob", 1, 2, 2100.0, None, 1],
    ]
