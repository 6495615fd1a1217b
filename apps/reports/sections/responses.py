"""Sections on answering: response times, agents, the bot."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import BooleanField, Case, Count, Exists, F, OuterRef, Q, Value, When
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import User
from apps.conversations.models import AuditLogEntry
from apps.messaging.models import Author, Direction, Message

from .. import sql
from ..models import AuthorHour, ConversationFacts, ReplyWait
from ..params import ReportParams
from .base import (
    _union_sql, RESOLVED, Table, conversations, _few_conversation_ids, messages, _conversation_durations,
    rolled_until, _int, _fixed_offset, _fetch,
)

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
