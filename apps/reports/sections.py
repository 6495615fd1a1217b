"""The report's sections. Each runs a few aggregate queries (grouping, counting and
percentiles happen in the database) and returns tables: columns and rows.

Definitions (docs/reports.md explains them for readers):
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
from django.db.models import (
    BigIntegerField, BooleanField, Case, CharField, Count, Exists, F, Func, Max, OuterRef, Q, Sum, Value, When,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KT
from django.db.models.functions import TruncDate, TruncHour
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import User
from apps.conversations.models import AuditLogEntry, Conversation
from apps.messaging.models import Author, Direction, Message, MessageType, Status
from apps.providers.meta.errors import ERROR_CODES

from . import sql
from .models import AuthorHour, ConversationFacts, MessageHour, ReplyWait, RollupState
from .params import ReportParams

RESOLVED = Conversation.Status.RESOLVED
REACHED_META = (Status.SENT, Status.DELIVERED, Status.READ, Status.PLAYED)
REACHED_PHONE = (Status.DELIVERED, Status.READ, Status.PLAYED)
WAS_READ = (Status.READ, Status.PLAYED)
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


# --- Scoping ---------------------------------------------------------------------------


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


# --- Sections ---------------------------------------------------------------------------


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


def summary(p: ReportParams, ctx: dict | None = None) -> list[Table]:
    opened = sum(_opened_by_day(p, ctx).values())
    events = _audit_events(p, ctx)
    now = conversations(p).exclude(status=RESOLVED).aggregate(
        open=Count("pk"),
        unassigned=Count("pk", filter=Q(assignee__isnull=True)),
        unattended=Count("pk", filter=Q(first_response_at__isnull=True)),
    )
    rows = [
        ["conversations_opened", opened],
        ["conversations_resolved", events["resolved"]],
        ["conversations_reopened", events["reopened"]],
        ["open_now", now["open"]],
        ["unassigned_now", now["unassigned"]],
        ["unattended_now", now["unattended"]],
    ]
    return [Table("summary", _("Conversations"), ["metric", "value"], rows)]


def _shared(ctx: dict | None, key: str, compute):
    """A pass over the messages shared by several sections of one report."""
    if ctx is None:
        return compute()
    if key not in ctx:
        ctx[key] = compute()
    return ctx[key]


# --- Roll-ups ---------------------------------------------------------------------------


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


def message_cube(p: ReportParams, ctx: dict | None = None) -> list[tuple]:
    """One pass over the range's messages: counts per local hour (Trunc in the
    organisation's zone), direction, type and author. Volume, messages and the
    heatmap are sums over these few thousand groups. Hours before the roll-ups'
    watermark come from MessageHour (UTC hours: local hours in a whole-hour zone)."""
    until = rolled_until(p, ctx)
    out = []
    if until is not None:
        # Hours as epoch seconds (integers read back far faster than ~13,000
        # datetimes), each distinct hour turned into local time once.
        rolled = (
            MessageHour.objects.filter(organization_id=p.organization_id, hour__gte=p.start, hour__lt=until)
            .values(epoch=_EpochSeconds("hour"), d=F("direction"), t=F("type"), a=F("author_type"))
            .annotate(n=Sum("messages")).values_list("epoch", "d", "t", "a", "n")
        )
        local: dict[int, datetime] = {}
        for epoch, direction, kind, author, n in _fetch(*sql.compiled(rolled)):  # no per-row converters
            hour = local.get(epoch)
            if hour is None:
                hour = local[epoch] = datetime.fromtimestamp(epoch, p.tz)
            out.append((hour, direction, kind, author, _int(n)))
        if until >= p.end:
            return out
    rows = (
        messages(p, lo=until).annotate(hour=TruncHour("timestamp", tzinfo=p.tz))
        .values("hour", "direction", "type", "author_type").annotate(n=Count("pk"))
        .values_list("hour", "direction", "type", "author_type", "n")
    )
    return out + [(hour.astimezone(p.tz), direction, kind, author, n) for hour, direction, kind, author, n in rows]


def volume(p: ReportParams, ctx: dict | None = None) -> list[Table]:
    opened = _opened_by_day(p, ctx)
    resolved = _audit_events(p, ctx)["resolved_by_day"]
    received, sent = {}, {}
    for hour, direction, _kind, author_type, n in _shared(ctx, "cube", lambda: message_cube(p, ctx)):
        if author_type == Author.SYSTEM:
            continue
        target = received if direction == Direction.INBOUND else sent
        target[hour.date()] = target.get(hour.date(), 0) + n
    rows = [
        [d.isoformat(), opened.get(d, 0), resolved.get(d, 0), received.get(d, 0), sent.get(d, 0)] for d in _days(p)
    ]
    return [Table("volume", _("Daily volume"), ["day", "opened", "resolved", "received", "sent"], rows)]


AUTHOR_GROUPS = ("customer", "agent", "bot", "template", "notification", "system", "integration")


def _author_group(direction: str, author_type: str, kind: str) -> str:
    """Outbound: a template sent by a business system is a notification; any other
    template is 'template'; otherwise the author type."""
    if direction == Direction.OUTBOUND and kind == MessageType.TEMPLATE:
        return "notification" if author_type == Author.INTEGRATION else "template"
    return author_type


def messages_report(p: ReportParams, ctx: dict | None = None) -> list[Table]:
    grouped = [(d, kind, a, n) for _h, d, kind, a, n in _shared(ctx, "cube", lambda: message_cube(p, ctx))]
    by_type: dict[tuple, int] = {}
    by_author = {name: 0 for name in AUTHOR_GROUPS}
    received = sent = 0
    for direction, kind, author_type, n in grouped:
        by_type[(direction, kind)] = by_type.get((direction, kind), 0) + n
        if direction == Direction.INBOUND:
            received += n
        else:
            sent += n
            group = _author_group(direction, author_type, kind)
            by_author[group] = by_author.get(group, 0) + n
    type_rows = [
        ["received" if d == Direction.INBOUND else "sent", kind, n] for (d, kind), n in sorted(by_type.items())
    ]
    author_rows = [["received", "customer", received]] + [
        ["sent", name, by_author[name]] for name in AUTHOR_GROUPS if name != "customer"
    ]
    author_rows.append(["sent", "total", sent])
    return [
        Table("messages-by-type", _("Messages by type"), ["direction", "type", "count"], type_rows),
        Table("messages-by-author", _("Messages by author"), ["direction", "author", "count"], author_rows),
    ]


# Customer messages are looked for at most this long before the range (it keeps the
# scan near the range): a wait is measured from the turn's first customer message
# inside this horizon; a reply whose turn has none there is left out.
WAIT_LOOKBACK = timedelta(days=7)


def _waiting_sql(p: ReportParams, ctx: dict | None = None, *, seconds: bool = False) -> tuple[str, list]:
    """Customer waiting time (columns e, s): replies before the roll-ups' watermark
    from ReplyWait, the rest live (_waiting_live_sql). With `seconds`, the elapsed
    seconds instead (column v), from the roll-ups' stored values."""
    until = rolled_until(p, ctx)
    if until is None:
        live, live_params = _waiting_live_sql(p)
        if seconds:
            return sql.durations(live, live_params, tzname=p.tz.key, hours=None)
        return live, live_params
    q = connection.ops.quote_name
    msg, ts = q(Message._meta.db_table), q("timestamp")
    lookback = p.start - WAIT_LOOKBACK
    # A turn that began before the lookback horizon is measured, as live, from its
    # first customer message inside it: the first in the conversation from the
    # horizon on (the reply before the turn is older than the turn's start).
    horizon_start = (
        f"(SELECT MIN(m.{ts}) FROM {msg} AS m WHERE m.conversation_id = w.conversation_id "
        f"AND m.direction = 'in' AND m.author_type = 'customer' AND m.{ts} >= %s "
        f"AND (m.{ts} < w.reply_at OR (m.{ts} = w.reply_at AND m.id < w.reply_id)))"
    )
    where = (f"FROM {q(ReplyWait._meta.db_table)} AS w "
             "WHERE w.organization_id = %s AND w.reply_at >= %s AND w.reply_at < %s")
    where_params = [p.organization_id, p.start, until]
    if seconds:
        # The elapsed seconds stored with the row (computed as below when missing).
        stored, _ = sql.elapsed_seconds("w.reply_at", "w.started_at")
        recomputed, _ = sql.elapsed_seconds("w.reply_at", horizon_start)
        rolled = (f"SELECT CASE WHEN w.started_at >= %s THEN COALESCE(w.seconds, {stored}) "
                  f"ELSE {recomputed} END AS v {where}")
    else:
        rolled = (
            "SELECT e, s FROM (SELECT w.reply_at AS e, CASE WHEN w.started_at >= %s THEN w.started_at "
            f"ELSE {horizon_start} END AS s {where}) AS r WHERE s IS NOT NULL"
        )
    params = [lookback, lookback, *where_params]
    if until >= p.end:
        return rolled, params
    live, live_params = _waiting_live_sql(p, lo=until)
    if seconds:
        live, live_params = sql.durations(live, live_params, tzname=p.tz.key, hours=None)
        return f"SELECT v FROM ({rolled}) AS rw UNION ALL SELECT v FROM ({live}) AS lw", params + live_params
    return f"SELECT e, s FROM ({rolled}) AS rw UNION ALL SELECT e, s FROM ({live}) AS lw", params + live_params


def _waiting_live_sql(p: ReportParams, lo: datetime | None = None) -> tuple[str, list]:
    """Customer waiting time: in each conversation, from the first customer message
    after a reply of ours (agent or bot) to our next reply, for replies in the range.
    Window functions find each turn's first customer message and the reply that ends
    it; the wait is the difference.
    Returns a query of columns e (reply) and s (first customer message)."""
    msg = connection.ops.quote_name(Message._meta.db_table)
    ts = connection.ops.quote_name("timestamp")
    conv_filter, conv_params = "", []
    ids = _few_conversation_ids(p) if p.has_conversation_filter else None
    if ids is not None:
        conv_filter, conv_params = " AND conversation_id = ANY(%s)", [ids]
    elif p.has_conversation_filter:
        conv_sql, conv_params = sql.compiled(conversations(p).values("pk"))
        conv_filter = f" AND conversation_id IN ({conv_sql})"
    if lo is not None:
        # Only replies from lo on: only conversations with a message since then.
        recent = messages(p, lo=lo).values("conversation_id")
        # Their ids first (the tail since the roll-ups' watermark: a few hundred),
        # so that their messages are read through the conversation index; as a
        # subquery the planner hash-joins it with a scan of the whole look-back.
        ids = sorted(set(recent.order_by().values_list("conversation_id", flat=True)))
        conv_filter += " AND conversation_id = ANY(%s)"
        conv_params = [*conv_params, ids]
    # One ordered pass marks turn starts (a customer message after one of our replies,
    # or the first in sight) and turn ends (our reply after a customer message); kept
    # alone, they alternate, and a start's end is the next row.
    marked = (
        "SELECT c, ts, id, biz, LAG(biz) OVER (PARTITION BY c ORDER BY ts, id) AS prev FROM ("
        f"SELECT conversation_id AS c, {ts} AS ts, id, "
        "CASE WHEN direction = 'out' THEN 1 ELSE 0 END AS biz "
        f"FROM {msg} WHERE organization_id = %s AND {ts} >= %s AND {ts} < %s "
        "AND ((direction = 'in' AND author_type = 'customer') OR (direction = 'out' AND author_type IN ('agent', 'bot')))"
        f"{conv_filter}) AS m"
    )
    edges = (
        "SELECT ts AS s, biz, LEAD(ts) OVER (PARTITION BY c ORDER BY ts, id) AS e, "
        "LEAD(biz) OVER (PARTITION BY c ORDER BY ts, id) AS next_biz "
        f"FROM ({marked}) AS k WHERE (biz = 0 AND (prev IS NULL OR prev = 1)) OR (biz = 1 AND prev = 0)"
    )
    query = f"SELECT e, s FROM ({edges}) AS t WHERE biz = 0 AND next_biz = 1 AND e >= %s AND e < %s"
    params = [p.organization_id, p.start - WAIT_LOOKBACK, p.end, *conv_params, max(p.start, lo or p.start), p.end]
    return query, params


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


def response_times(p: ReportParams, ctx: dict | None = None) -> list[Table]:
    if p.hours is None:
        waiting = sql.stats(*_waiting_sql(p, ctx, seconds=True))[None]
    else:
        # Every instant of a wait is in [start - WAIT_LOOKBACK, end).
        waiting_sql, waiting_params = _waiting_sql(p, ctx)
        offset = _fixed_offset(p, p.start - WAIT_LOOKBACK, p.end)
        waiting = sql.stats(*sql.durations(waiting_sql, waiting_params, tzname=p.tz.key, hours=p.hours,
                                           offset=offset))[None]
    rows = []
    for name, s in (
        ("first_response", _conversation_durations(p, ctx, "first_response").get(sql.TOTAL, sql.Stats())),
        ("customer_waiting", waiting),
        ("resolution", _conversation_durations(p, ctx, "resolution").get(sql.TOTAL, sql.Stats())),
    ):
        rows.append([name, s.count, s.median, s.p90, s.average])
    unit = "business_seconds" if p.hours else "seconds"
    return [Table(
        "response-times", _("Response and resolution times"),
        ["metric", "count", f"median_{unit}", f"p90_{unit}", f"average_{unit}"], rows,
    )]


def _agents_sent(p: ReportParams, ctx: dict | None) -> dict:
    """Per agent: messages sent in the range and the conversations they were sent in
    (roll-ups before the watermark, live after; distinct over both)."""
    live = messages(p, lo=rolled_until(p, ctx)).filter(
        direction=Direction.OUTBOUND, author_type=Author.AGENT, author__isnull=False
    )
    until = rolled_until(p, ctx)
    if until is None:
        return {
            row["author_id"]: row
            for row in live.values("author_id").annotate(messages=Count("pk"), handled=Count("conversation_id", distinct=True))
        }
    rolled = AuthorHour.objects.filter(
        organization_id=p.organization_id, hour__gte=p.start, hour__lt=until, author_type=Author.AGENT,
        author_id__isnull=False,
    ).annotate(n=F("messages")).values("author_id", "conversation_id", "n")
    parts = [rolled]
    if until < p.end:
        parts.append(live.annotate(n=Value(1)).values("author_id", "conversation_id", "n"))
    # Per (agent, conversation) first, then per agent: two hashable groupings instead
    # of a COUNT(DISTINCT) that sorts every row.
    statement, params = _union_sql(parts, ("author_id", "conversation_id", "n"),
                                   "GROUP BY author_id, conversation_id")
    statement = statement.replace("SELECT *", "SELECT author_id, SUM(n) AS n", 1)
    statement = f"SELECT author_id, SUM(n), COUNT(*) FROM ({statement}) AS pairs GROUP BY author_id"
    return {
        author: {"author_id": author, "messages": _int(n), "handled": _int(handled)}
        for author, n, handled in _fetch(statement, params)
    }


def agents(p: ReportParams, ctx: dict | None = None) -> list[Table]:
    sent = _agents_sent(p, ctx)
    first_stats = {k: v for k, v in _conversation_durations(p, ctx, "first_response").items() if k != sql.TOTAL}
    resolution_stats = {k: v for k, v in _conversation_durations(p, ctx, "resolution").items() if k != sql.TOTAL}
    open_now = dict(
        conversations(p).exclude(status=RESOLVED).filter(assignee__isnull=False)
        .values("assignee_id").annotate(n=Count("pk")).values_list("assignee_id", "n")
    )
    ids = set(sent) | set(first_stats) | set(resolution_stats) | set(open_now)
    people = User.objects.filter(organization_id=p.organization_id).filter(
        Q(pk__in=ids) | Q(role=User.Role.AGENT, is_active=True)
    )
    if p.agent_id is not None:
        people = people.filter(pk=p.agent_id)
    rows = []
    for user in people.order_by("username"):
        mine = sent.get(user.pk, {})
        rows.append([
            user.pk, user.name, mine.get("handled", 0), mine.get("messages", 0),
            first_stats.get(user.pk, sql.Stats()).median,
            resolution_stats.get(user.pk, sql.Stats()).median,
            open_now.get(user.pk, 0),
        ])
    unit = "business_seconds" if p.hours else "seconds"
    return [Table(
        "agents", _("Agents"),
        ["agent_id", "agent", "conversations_handled", "messages_sent", f"median_first_response_{unit}",
         f"median_resolution_{unit}", "open_now"],
        rows,
    )]


def bot(p: ReportParams, ctx: dict | None = None) -> list[Table]:
    """Conversations opened in the range in which the bot wrote: contained when
    resolved without a hand-off and without an agent's message; handed off when the
    bot recorded a hand-off."""
    # Messages of a conversation opened in the range are not older than the range (a
    # day's margin for Meta's clock): the bound keeps the lookups near the range.
    since = p.start - timedelta(days=1)
    until = rolled_until(p, ctx)
    handed_off = Exists(AuditLogEntry.objects.filter(conversation_id=OuterRef("pk"), action="bot.handoff"))
    opened = conversations(p).filter(created_at__gte=p.start, created_at__lt=p.end)
    if until is None:
        msgs = Message.objects.filter(conversation_id=OuterRef("pk"), direction=Direction.OUTBOUND,
                                      timestamp__gte=since)
        has_agent = Exists(msgs.filter(author_type=Author.AGENT))
        cohort = opened.filter(Exists(msgs.filter(author_type=Author.BOT)))
    else:
        # Messages before the watermark: the last bot and agent message of each
        # conversation (ConversationFacts); from it on, live. The cohort is driven by
        # the conversations the bot wrote in (a union of ids), not by every
        # conversation opened in the range.
        live = Message.objects.filter(organization_id=p.organization_id, direction=Direction.OUTBOUND,
                                      timestamp__gte=until)
        bot_ids = ConversationFacts.objects.filter(
            organization_id=p.organization_id, bot_last_at__gte=since
        ).values("conversation_id").union(live.filter(author_type=Author.BOT).values("conversation_id"))
        has_agent = Q(report_facts__agent_last_at__gte=since) | Q(
            pk__in=live.filter(author_type=Author.AGENT).values("conversation_id"))
        cohort = opened.filter(pk__in=bot_ids)
    # Each conversation's hand-off and "an agent wrote" evaluated once (as columns),
    # then counted.
    rows = cohort.annotate(
        h=handed_off,
        a=Case(When(has_agent, then=Value(True)), default=Value(False), output_field=BooleanField()),
    ).values("h", "a", "status").order_by()
    inner, params = sql.compiled(rows)
    inner += " OFFSET 0"  # a fence: the planner would copy the EXISTS into each SUM
    total, handed, contained = _fetch(
        "SELECT COUNT(*), SUM(CASE WHEN h THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN NOT h AND NOT a AND status = %s THEN 1 ELSE 0 END) FROM ({inner}) AS c",
        [RESOLVED, *params],
    )[0]
    figures = {"contained": _int(contained), "handed_off": _int(handed)}

    def rate(n):
        return round(n / total, 4) if total else None

    rows = [
        ["bot_conversations", total, None],
        ["contained", figures["contained"], rate(figures["contained"])],
        ["handed_off", figures["handed_off"], rate(figures["handed_off"])],
    ]
    return [Table("bot", _("Bot containment"), ["metric", "count", "rate"], rows)]


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


def _fetch(statement: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def outbound_cube(p: ReportParams, ctx: dict | None = None) -> list[dict]:
    """One pass over the range's outbound messages (reactions aside): delivery
    counts per template (name and language; None for messages that are not
    templates). Hours before the roll-ups' watermark come from MessageHour."""
    is_template = Q(type=MessageType.TEMPLATE)
    live = (
        messages(p, lo=rolled_until(p, ctx)).filter(direction=Direction.OUTBOUND).exclude(type=MessageType.REACTION)
        .annotate(
            t_name=Case(When(is_template, then=KT("content__name")), output_field=CharField()),
            t_language=Case(When(is_template, then=KT("content__language__code")), output_field=CharField()),
        )
        .values("t_name", "t_language")
        .annotate(
            total=Count("pk"),
            notifications=Count("pk", filter=Q(author_type=Author.INTEGRATION)),
            sent=Count("pk", filter=Q(sent_at__isnull=False) | Q(status__in=REACHED_META)
                       | Q(delivered_at__isnull=False)),
            delivered=Count("pk", filter=Q(delivered_at__isnull=False) | Q(status__in=REACHED_PHONE)),
            read=Count("pk", filter=Q(read_at__isnull=False) | Q(status__in=WAS_READ)),
            failed=Count("pk", filter=Q(status=Status.FAILED)),
            pending=Count("pk", filter=Q(status=Status.PENDING)),
        )
        .order_by("-total", "t_name", "t_language")
    )
    until = rolled_until(p, ctx)
    if until is None:
        return list(live)
    rolled = (
        MessageHour.objects.filter(organization_id=p.organization_id, hour__gte=p.start, hour__lt=until,
                                   direction=Direction.OUTBOUND).exclude(type=MessageType.REACTION)
        .annotate(t_name=F("template_name"), t_language=F("template_language"))
        .values("t_name", "t_language")
        .annotate(
            total=Sum("messages"),
            notifications=Sum(Case(When(author_type=Author.INTEGRATION, then=F("messages")), default=0)),
            sent=Sum("sent"), delivered=Sum("delivered"), read=Sum("read"), failed=Sum("failed"),
            pending=Sum("pending"),
        )
    )
    q = connection.ops.quote_name
    sums = ", ".join(f"SUM({q(c)}) AS {q(c)}" for c in OUTBOUND_COLUMNS[2:])
    statement, params = _union_sql(
        [rolled] + ([live] if until < p.end else []), OUTBOUND_COLUMNS,
        f"GROUP BY t_name, t_language ORDER BY SUM(total) DESC, t_name, t_language",
    )
    statement = statement.replace("SELECT *", f"SELECT t_name, t_language, {sums}", 1)
    return [
        {c: (v if i < 2 else _int(v)) for i, (c, v) in enumerate(zip(OUTBOUND_COLUMNS, row))}
        for row in _fetch(statement, params)
    ]


STAGES = ("total", "sent", "delivered", "read", "failed", "pending")


def delivery(p: ReportParams, ctx: dict | None = None) -> list[Table]:
    f = {stage: 0 for stage in STAGES}
    for row in _shared(ctx, "outbound", lambda: outbound_cube(p, ctx)):
        for stage in STAGES:
            f[stage] += row[stage]
    total = f["total"]
    funnel = [[stage, f[stage], round(f[stage] / total, 4) if total else None] for stage in STAGES]
    until = rolled_until(p, ctx)
    live = (
        messages(p, lo=until).filter(direction=Direction.OUTBOUND, status=Status.FAILED)
        .exclude(type=MessageType.REACTION)
        .values("error_code").annotate(n=Count("pk"), title=Max("error_title"))
    )
    if until is None:
        failures = live.order_by("-n", "error_code").values_list("error_code", "title", "n")[:TOP_FAILURES]
    else:
        rolled = (
            MessageHour.objects.filter(organization_id=p.organization_id, hour__gte=p.start, hour__lt=until,
                                       direction=Direction.OUTBOUND, failed__gt=0)
            .exclude(type=MessageType.REACTION)
            .values("error_code").annotate(n=Sum("failed"), title=Max("error_title"))
        )
        statement, params = _union_sql(
            [rolled] + ([live] if until < p.end else []), ("error_code", "n", "title"),
            f"GROUP BY error_code ORDER BY SUM(n) DESC, error_code LIMIT {TOP_FAILURES}",
        )
        statement = statement.replace("SELECT *", "SELECT error_code, MAX(title), SUM(n)", 1)
        failures = _fetch(statement, params)
    failure_rows = []
    for code, title, n in failures:
        title = title or (ERROR_CODES[code][1] if code in ERROR_CODES else "")
        failure_rows.append([code, title, _int(n)])
    return [
        Table("delivery", _("Delivery funnel"), ["stage", "count", "share_of_total"], funnel),
        Table("failures", _("Top failure codes"), ["code", "title", "count"], failure_rows),
    ]


def templates(p: ReportParams, ctx: dict | None = None) -> list[Table]:
    from apps.message_templates.models import MessageTemplate

    grouped = [row for row in _shared(ctx, "outbound", lambda: outbound_cube(p, ctx)) if row["t_name"] is not None]
    names = {row["t_name"] for row in grouped}
    categories = {
        (name, language): category
        for name, language, category in MessageTemplate.objects.filter(
            organization_id=p.organization_id, name__in=names
        ).values_list("name", "language", "category")
    } if names else {}
    rows, by_category = [], {}
    for row in grouped:
        category = categories.get((row["t_name"], row["t_language"]), "")
        rows.append([row["t_name"], row["t_language"] or "", category, row["total"], row["notifications"],
                     row["delivered"], row["read"], row["failed"]])
        by_category[category] = by_category.get(category, 0) + row["total"]
    category_rows = [[c or "UNKNOWN", n] for c, n in sorted(by_category.items(), key=lambda i: (-i[1], i[0]))]
    return [
        Table("templates", _("Template sends"),
              ["template", "language", "category", "sent", "notifications", "delivered", "read", "failed"], rows),
        Table("template-categories", _("Template sends by category"), ["category", "sent"], category_rows),
    ]


def heatmap(p: ReportParams, ctx: dict | None = None) -> list[Table]:
    counts: dict[tuple, int] = {}
    for hour, direction, _kind, author_type, n in _shared(ctx, "cube", lambda: message_cube(p, ctx)):
        if direction == Direction.INBOUND and author_type == Author.CUSTOMER:
            key = (hour.isoweekday(), hour.hour)
            counts[key] = counts.get(key, 0) + n
    rows = [[d, h, counts.get((d, h), 0)] for d in range(1, 8) for h in range(24)]
    return [Table("heatmap", _("Customer messages by hour of the week"), ["iso_weekday", "hour", "messages"], rows)]


def opt_outs(p: ReportParams, ctx: dict | None = None) -> list[Table]:
    counts = {
        (d, action): n
        for d, action, n in audit(p).filter(action__in=list(OPT_ACTIONS))
        .annotate(day=TruncDate("created_at", tzinfo=p.tz)).values("day", "action")
        .annotate(n=Count("pk")).values_list("day", "action", "n")
    }
    rows = [[d.isoformat(), *[counts.get((d, a), 0) for a in OPT_ACTIONS]] for d in _days(p)]
    return [Table("opt-outs", _("Opt-outs"), ["day", *OPT_ACTIONS.values()], rows)]


SECTIONS = (summary, volume, messages_report, response_times, agents, bot, delivery, templates, heatmap, opt_outs)
