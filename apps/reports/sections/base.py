"""What the report's sections share: the filtered querysets, the Table they return, and small helpers.

Each section runs a few aggregate queries (grouping, counting and percentiles happen in
the database) and returns tables: columns and rows. Definitions (docs/reports.md explains
them for readers):
- the range is [start, end): local midnight of the first day to local midnight after
  the last day, in the organisation's time zone; days and hours are local;
- filters by number, team, agent (assignee) and label use the conversation's current
  values;
- messages are counted by their `timestamp` (Meta's time for inbound messages).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone

from django.db import connection
from django.db.models import BigIntegerField, BooleanField, Case, Count, Exists, F, Func, OuterRef, Q, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncDate

from apps.conversations.models import AuditLogEntry, Conversation
from apps.messaging.models import Message, Status

from .. import sql
from ..models import RollupState
from ..params import ReportParams
from ..stages import REACHED_META, REACHED_PHONE, WAS_READ  # noqa: F401  (importable from the sections)

RESOLVED = Conversation.Status.RESOLVED


TOP_FAILURES = 10


REOPENED = Q(action="conversation.reopened") | (
    Q(action="conversation.status_changed", data__from=RESOLVED) & ~Q(data__to=RESOLVED)
)


RESOLVED_EVENT = Q(action="conversation.status_changed", data__to=RESOLVED) & ~Q(data__from=RESOLVED)


OPT_ACTIONS = {
    "contact.opted_out": "opted_out",
    "contact.opted_in": "opted_in",
    "contact.marketing_stopped": "marketing_stopped",
    "contact.marketing_resumed": "marketing_resumed",
}


@dataclass
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"report": self.name, "title": str(self.title), "columns": self.columns, "rows": self.rows}


def conversations(p: ReportParams):
    qs = Conversation.objects.filter(organization_id=p.organization_id)
    if p.number_id is not None:
        qs = qs.filter(number_id=p.number_id)
    if p.team_id is not None:
        qs = qs.filter(team_id=p.team_id)
    if p.agent_id is not None:
        qs = qs.filter(assignee_id=p.agent_id)
    if p.label_id is not None:
        through = Conversation.labels.through
        qs = qs.filter(Exists(through.objects.filter(conversation_id=OuterRef("pk"), label_id=p.label_id)))
    return qs


# Up to this many filtered conversations their ids are passed as an array; more (a
# large team) and a subquery lets the planner hash them against one scan.
FEW_CONVERSATIONS = 5000


def _few_conversation_ids(p: ReportParams) -> list | None:
    """The filtered conversations' ids when they are few, else None."""
    ids = list(conversations(p).order_by().values_list("pk", flat=True)[:FEW_CONVERSATIONS + 1])
    return ids if len(ids) <= FEW_CONVERSATIONS else None


def _filtered(p: ReportParams, qs):
    """Rows of `qs` (messages or audit entries) of the filtered conversations. The
    conversations' ids are read first and passed as one array: the
    planner then knows how few they are (an agent's, a label's) and reads their rows
    through the conversation index; with a subquery it scans the whole range."""
    ids = _few_conversation_ids(p)
    if ids is None:
        return qs.filter(conversation_id__in=conversations(p).values("pk"))
    column = f"{connection.ops.quote_name(qs.model._meta.db_table)}.{connection.ops.quote_name('conversation_id')}"
    return qs.filter(RawSQL(f"{column} = ANY(%s)", [ids], output_field=BooleanField()))


def messages(p: ReportParams, *, in_range: bool = True, lo: datetime | None = None, hi: datetime | None = None):
    """The messages of the range ([lo, hi) within it when given)."""
    qs = Message.objects.filter(organization_id=p.organization_id)
    if in_range:
        qs = qs.filter(timestamp__gte=max(p.start, lo or p.start), timestamp__lt=min(p.end, hi or p.end))
    if p.has_conversation_filter:
        qs = _filtered(p, qs)
    return qs


def audit(p: ReportParams):
    qs = AuditLogEntry.objects.filter(organization_id=p.organization_id, created_at__gte=p.start, created_at__lt=p.end)
    if p.has_conversation_filter:
        qs = _filtered(p, qs)
    return qs


def _duration_stats(p: ReportParams, queryset, *, keyed: bool = False, total: bool = False) -> dict:
    """Stats of the durations e - s of a queryset of columns e, s (and k)."""
    inner, params = sql.compiled(queryset)
    return sql.stats(*sql.durations(inner, params, tzname=p.tz.key, hours=p.hours, keyed=keyed), keyed=keyed,
                     total=total)


def _conversation_durations(p: ReportParams, ctx: dict | None, name: str) -> dict:
    """First response ("first_response": conversations opened in the range that an
    agent answered) or resolution ("resolution": currently resolved, resolved in the
    range) durations: per assignee, and over all the conversations under sql.TOTAL.
    One scan gives both (response times and the agents' table share it)."""

    def compute():
        if name == "first_response":
            rows = conversations(p).filter(created_at__gte=p.start, created_at__lt=p.end, first_response_at__isnull=False)
            e = "first_response_at"
        else:
            rows = conversations(p).filter(status=RESOLVED, resolved_at__gte=p.start, resolved_at__lt=p.end)
            e = "resolved_at"
        figures = _duration_stats(p, rows.values(k=F("assignee_id"), e=F(e), s=F("created_at")), keyed=True,
                                  total=True)
        figures.pop(None, None)  # the conversations without an assignee
        return figures

    return _shared(ctx, f"durations:{name}", compute)


def _days(p: ReportParams) -> list:
    return [p.start_date + timedelta(days=i) for i in range((p.end_date - p.start_date).days + 1)]


def _opened_by_day(p: ReportParams, ctx: dict | None) -> dict:
    """Conversations opened per local day of the range (their sum: opened in the range)."""
    return _shared(ctx, "opened", lambda: dict(
        conversations(p).filter(created_at__gte=p.start, created_at__lt=p.end)
        .annotate(day=TruncDate("created_at", tzinfo=p.tz)).values("day").annotate(n=Count("pk"))
        .values_list("day", "n")
    ))


def _audit_events(p: ReportParams, ctx: dict | None) -> dict:
    """Distinct conversations resolved and reopened in the range (audit log), and
    resolved per local day. One scan gives both (GROUPING SETS)."""

    def compute():
        events = audit(p).filter(conversation__isnull=False)
        day = TruncDate("created_at", tzinfo=p.tz)
        rows = events.filter(RESOLVED_EVENT | REOPENED).annotate(
            day=day,
            r=Case(When(RESOLVED_EVENT, then=F("conversation_id"))),
            o=Case(When(REOPENED, then=F("conversation_id"))),
        ).values("day", "r", "o").order_by()
        inner, params = sql.compiled(rows)
        out = {"resolved": 0, "reopened": 0, "resolved_by_day": {}}
        for total, d, resolved, reopened in _fetch(
            "SELECT GROUPING(day), day, COUNT(DISTINCT r), COUNT(DISTINCT o) "
            f"FROM ({inner}) AS a GROUP BY GROUPING SETS ((day), ())", params
        ):
            if total:
                out["resolved"], out["reopened"] = resolved, reopened
            elif resolved:
                out["resolved_by_day"][d] = resolved
        return out

    return _shared(ctx, "audit_events", compute)


def _shared(ctx: dict | None, key: str, compute):
    """A pass over the messages shared by several sections of one report."""
    if ctx is None:
        return compute()
    if key not in ctx:
        ctx[key] = compute()
    return ctx[key]


def rolled_until(p: ReportParams, ctx: dict | None = None) -> datetime | None:
    """Up to when this report can read the roll-ups (models.py) instead of the
    messages: None without roll-ups, with a conversation filter (the roll-ups are of
    the whole organisation) or in a zone whose offset is not whole hours in the range
    (roll-ups are per UTC hour). The range's hours from then on are read live."""
    return _shared(ctx, "rolled_until", lambda: _rolled_until(p))


def _rolled_until(p: ReportParams) -> datetime | None:
    if p.has_conversation_filter:
        return None
    until = RollupState.objects.filter(organization_id=p.organization_id).values_list("until", flat=True).first()
    if until is None or until <= p.start:
        return None
    hour, end = p.start.astimezone(dt_timezone.utc), p.end
    while hour <= end:
        if hour.astimezone(p.tz).utcoffset() % timedelta(hours=1):
            return None
        hour += timedelta(hours=1)
    return min(until, p.end)


def _int(value) -> int:
    return int(value or 0)


class _EpochSeconds(Func):
    """Whole seconds since 1970-01-01 UTC of a datetime."""

    output_field = BigIntegerField()

    template = "CAST(date_part('epoch', %(expressions)s) AS BIGINT)"


def _fixed_offset(p: ReportParams, lo: datetime, hi: datetime) -> int | None:
    """The zone's UTC offset in seconds when it is the same at every hour from lo to
    hi (no daylight-saving change in between), else None. Checked hourly, as
    `_rolled_until` does: zones change offset for months, never for less than an hour."""
    hour = lo.astimezone(dt_timezone.utc).replace(minute=0, second=0, microsecond=0)
    offset = hour.astimezone(p.tz).utcoffset()
    while hour <= hi:
        hour += timedelta(hours=1)
        if hour.astimezone(p.tz).utcoffset() != offset:
            return None
    return int(offset.total_seconds())


def _fetch(statement: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()

OUTBOUND_COLUMNS = ("t_name", "t_language", "total", "notifications", "sent", "delivered", "read", "failed", "pending")


def _union_sql(parts: list, columns: tuple, tail: str) -> tuple[str, list]:
    """The rows of several querysets (each selecting `columns` by alias), summed per
    the `tail`'s grouping: one statement, so ordering and NULLs are the database's."""
    q = connection.ops.quote_name
    selects, params = [], []
    for queryset in parts:
        inner, inner_params = sql.compiled(queryset.order_by())
        selects.append(f"SELECT {', '.join(q(c) for c in columns)} FROM ({inner}) AS part")
        params += inner_params
    return f"SELECT * FROM ({' UNION ALL '.join(selects)}) AS u {tail}", params
