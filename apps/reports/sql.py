"""SQL pieces the ORM does not offer portably: durations in seconds (elapsed or within
business hours) and percentiles.

Percentiles are PostgreSQL's percentile_cont (linear interpolation between the two
closest ranks).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from .params import BusinessHours

WEEK = 7 * 86400
# 1970-01-01 was a Thursday: shifting by three days puts week boundaries on Mondays.
MONDAY_SHIFT = 3 * 86400


def elapsed_seconds(end_sql: str, start_sql: str) -> tuple[str, list]:
    """Seconds from start to end, exact to the microsecond (null when either is)."""
    # date_part works in double precision; EXTRACT computes a numeric per row
    # (about twice the time), then the cast rounds it the same.
    return f"date_part('epoch', {end_sql} - {start_sql})", []


def _local_epoch(col_sql: str, tzname: str, offset: int | None = None) -> tuple[str, list]:
    """Whole seconds since 1970-01-01 00:00 of the local wall clock of `col_sql`.
    `offset`: the zone's UTC offset in seconds when the caller knows it is the same for
    every instant of the column; the wall clock is then the UTC epoch plus it (no time
    zone conversion per row)."""
    if offset is not None:
        return f"(CAST(FLOOR(date_part('epoch', {col_sql})) AS BIGINT) + {int(offset)})", []
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM ({col_sql} AT TIME ZONE %s))) AS BIGINT)", [tzname]


def _clamp(expr: str, upper: int) -> str:
    return f"LEAST(GREATEST({expr}, 0), {upper})"


def business_clock(epoch_sql: str, hours: BusinessHours) -> str:
    """Business seconds from a fixed origin (a Monday in 1969) up to a local wall-clock
    time given as whole seconds since 1970-01-01 00:00 local: whole weeks times the
    week's open seconds, plus the open seconds of the current week so far. The
    business time between two instants is the difference of their clocks."""
    shifted = f"({epoch_sql} + {MONDAY_SHIFT})"
    parts = [f"(({shifted} / {WEEK}) * {hours.week_seconds})"]
    for weekday, start, end in hours.ranges:
        offset = (weekday - 1) * 86400 + start
        parts.append(_clamp(f"({shifted} %% {WEEK}) - {offset}", end - start))
    return "(" + " + ".join(parts) + ")"


def durations(inner_sql: str, params: list, *, tzname: str, hours: BusinessHours | None,
              keyed: bool = False, offset: int | None = None) -> tuple[str, list]:
    """Wrap a query of columns `e` (end), `s` (start) and optionally `k` into one of
    `v`: seconds from s to e, elapsed or within business hours, never negative (an e
    before its s counts as 0: `_never_negative`). The local clock of each instant is
    computed once per row (below a fence the planner does not flatten), then the
    business clocks from it."""
    key = "k, " if keyed else ""
    if hours is None:
        elapsed, _ = elapsed_seconds("e", "s")
        return _never_negative(f"SELECT {key}{elapsed} AS v FROM ({inner_sql}) AS d", key), list(params)
    end_epoch, end_params = _local_epoch("e", tzname, offset)
    start_epoch, start_params = _local_epoch("s", tzname, offset)
    local = f"SELECT {key}{end_epoch} AS le, {start_epoch} AS ls FROM ({inner_sql}) AS d0 OFFSET 0"
    diff = f"({business_clock('le', hours)} - {business_clock('ls', hours)})"
    query = f"SELECT {key}CAST({diff} AS DOUBLE PRECISION) AS v FROM ({local}) AS d"
    return _never_negative(query, key), [*end_params, *start_params, *params]


def _never_negative(query: str, key: str) -> str:
    """Its column v with a negative value as 0 (a null stays null: left out of the
    figures). An end recorded before its start, such as an answer stored with a time
    before its conversation was opened (clocks of different sources, imported
    history), is no negative duration."""
    return f"SELECT {key}CASE WHEN v < 0 THEN 0 ELSE v END AS v FROM ({query}) AS n"


@dataclass(frozen=True)
class Stats:
    count: int = 0
    median: float | None = None
    p90: float | None = None
    average: float | None = None

    def as_dict(self) -> dict:
        return {"count": self.count, "median": self.median, "p90": self.p90, "average": self.average}


def _round(value):
    return None if value is None else round(float(value), 3)


TOTAL = "total"


def stats(inner_sql: str, params: list, *, keyed: bool = False, total: bool = False) -> dict:
    """Count, median, p90 and average of column `v` of `inner_sql` (rows with a null
    `v` are left out), over all rows or per value of its column `k` (keyed).
    Returns {key: Stats} ({None: Stats} when not keyed). With `total` (keyed only)
    also the figures over all rows, under the key TOTAL, from the same scan
    (GROUPING SETS)."""
    key_select = "k, " if keyed else ""
    if total and not keyed:
        raise ValueError("total needs keyed figures")
    group = " GROUP BY k" if keyed else ""
    if total:
        key_select, group = "GROUPING(k), k, ", " GROUP BY GROUPING SETS ((k), ())"
    sql = (
        f"SELECT {key_select}COUNT(v), "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY v), "
        "percentile_cont(0.9) WITHIN GROUP (ORDER BY v), AVG(v) "
        f"FROM ({inner_sql}) AS s WHERE v IS NOT NULL{group}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    result = {}
    for row in rows:
        if total:
            row = (TOTAL if row[0] else row[1], *row[2:])
        key, values = (row[0], row[1:]) if keyed else (None, row)
        count, median, p90, average = values
        result[key] = Stats(count=int(count or 0), median=_round(median), p90=_round(p90), average=_round(average))
    return result


def compiled(queryset) -> tuple[str, list]:
    """The SQL and parameters of a queryset, to wrap in a larger statement."""
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return sql, list(params)


def message_costs(inner_sql: str, params: list) -> list[tuple]:
    """The priced messages among `inner_sql`'s (a SELECT of message ids), grouped by
    number, pricing category, pricing type and template (name, language; NULL for the
    others): (number id, category, type, template, language, messages, billable,
    estimated cost, currency). A message is billable as Meta says (`billable`, else a
    `regular` pricing type); its estimated cost is the organisation's rate for its
    category and the customer's market, the longest matching calling code first, ""
    for any market (reports.PricingRate); NULL when no rate applies."""
    from apps.conversations.models import Contact, Conversation
    from apps.messaging.models import Message

    from .models import PricingRate

    m, cv, c, r = (Message._meta.db_table, Conversation._meta.db_table, Contact._meta.db_table,
                   PricingRate._meta.db_table)
    billable = "COALESCE(m.billable, m.pricing_type = 'regular')"
    statement = (
        "SELECT m.number_id, m.pricing_category, m.pricing_type, "
        "CASE WHEN m.type = 'template' THEN m.content->>'name' END AS template, "
        "CASE WHEN m.type = 'template' THEN m.content->'language'->>'code' END AS language, "
        f"COUNT(*), COUNT(*) FILTER (WHERE {billable}), "
        f"SUM(CASE WHEN {billable} THEN rate.price END), MAX(rate.currency) "
        f"FROM {m} AS m JOIN {cv} AS cv ON cv.id = m.conversation_id JOIN {c} AS c ON c.id = cv.contact_id "
        f"LEFT JOIN LATERAL (SELECT r.price, r.currency FROM {r} AS r WHERE r.organization_id = m.organization_id "
        "AND r.category = m.pricing_category AND left(c.wa_id, length(r.market)) = r.market "
        "ORDER BY length(r.market) DESC LIMIT 1) AS rate ON TRUE "
        f"WHERE m.id IN ({inner_sql}) AND m.pricing_category <> '' "
        "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()
