"""Keeping the reports' roll-ups (models.py): messages per UTC hour and each reply's
wait. `rollup_refresh` rolls an organisation's closed hours up; it is idempotent
(each run replaces the rows it recomputes) and serialised per organisation (a row
lock on its RollupState)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone

from django.db import connection, transaction
from django.db.models import Case, Count, F, IntegerField, Max, Q, TextField, When
from django.db.models.fields.json import KT
from django.db.models.functions import TruncHour
from django.utils import timezone

from apps.accounts.models import Organization
from apps.messaging.models import Author, Direction, Message, MessageType, Status

from . import sql
from .stages import stage_counts
from .models import AuthorHour, ConversationFacts, MessageHour, ReplyWait, RollupState

UTC = dt_timezone.utc
# Delivery statuses keep arriving after a message is sent: every refresh recomputes
# the hours of this trailing window, so a status Meta reports within it is counted.
SETTLE = timedelta(days=3)
# Messages stored (created_at) since the previous refresh started, less this margin
# (transactions still open then), are looked at again: late arrivals.
LATE_MARGIN = timedelta(minutes=10)


@dataclass
class RollupResult:
    organization_id: int
    until: datetime
    full: bool
    hours: int
    conversations: str

    def as_dict(self) -> dict:
        return {"organization_id": self.organization_id, "until": self.until.isoformat(), "full": self.full,
                "hours": self.hours, "conversations": self.conversations}


def _hour_floor(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hours_rebuild(organization_id: int, lo: datetime | None, hi: datetime) -> None:
    """Replace the MessageHour rows of [lo, hi) (from the first message when lo is None)."""
    rows = MessageHour.objects.filter(organization_id=organization_id, hour__lt=hi)
    msgs = Message.objects.filter(organization_id=organization_id, timestamp__lt=hi)
    if lo is not None:
        rows = rows.filter(hour__gte=lo)
        msgs = msgs.filter(timestamp__gte=lo)
    rows.delete()
    is_template = Q(type=MessageType.TEMPLATE)
    failed = Q(direction=Direction.OUTBOUND, status=Status.FAILED)
    grouped = (
        msgs.annotate(
            k_hour=TruncHour("timestamp", tzinfo=UTC), k_direction=F("direction"), k_type=F("type"),
            k_author=F("author_type"),
            k_tname=Case(When(is_template, then=KT("content__name")), output_field=TextField()),
            k_tlang=Case(When(is_template, then=KT("content__language__code")), output_field=TextField()),
            k_code=Case(When(failed, then=F("error_code")), output_field=IntegerField()),
        )
        .values("k_hour", "k_direction", "k_type", "k_author", "k_tname", "k_tlang", "k_code")
        .annotate(
            k_title=Max(Case(When(failed, then=F("error_title")))),
            k_n=Count("pk"),
            **stage_counts("k_"),
        )
        .order_by()
    )
    inner, params = sql.compiled(grouped)
    q = connection.ops.quote_name
    _authors_rebuild(organization_id, lo, hi)
    columns = ("organization_id", "hour", "direction", "type", "author_type", "template_name", "template_language",
               "error_code", "error_title", "messages", "sent", "delivered", "read", "failed", "pending")
    aliases = ("k_hour", "k_direction", "k_type", "k_author", "k_tname", "k_tlang", "k_code", "k_title", "k_n",
               "k_sent", "k_delivered", "k_read", "k_failed", "k_pending")
    statement = (
        f"INSERT INTO {q(MessageHour._meta.db_table)} ({', '.join(q(c) for c in columns)}) "
        f"SELECT %s, {', '.join(q(a) for a in aliases)} FROM ({inner}) AS g"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [organization_id, *params])


def _authors_rebuild(organization_id: int, lo: datetime | None, hi: datetime) -> None:
    """Replace the AuthorHour rows of [lo, hi): agents' and the bot's messages."""
    rows = AuthorHour.objects.filter(organization_id=organization_id, hour__lt=hi)
    msgs = Message.objects.filter(organization_id=organization_id, timestamp__lt=hi, direction=Direction.OUTBOUND,
                                  author_type__in=(Author.AGENT, Author.BOT))
    if lo is not None:
        rows = rows.filter(hour__gte=lo)
        msgs = msgs.filter(timestamp__gte=lo)
    rows.delete()
    grouped = (
        msgs.annotate(k_hour=TruncHour("timestamp", tzinfo=UTC), k_author_type=F("author_type"),
                      k_author=F("author_id"), k_conversation=F("conversation_id"))
        .values("k_hour", "k_author_type", "k_author", "k_conversation").annotate(k_n=Count("pk")).order_by()
    )
    inner, params = sql.compiled(grouped)
    q = connection.ops.quote_name
    columns = ("organization_id", "hour", "author_type", "author_id", "conversation_id", "messages")
    aliases = ("k_hour", "k_author_type", "k_author", "k_conversation", "k_n")
    statement = (
        f"INSERT INTO {q(AuthorHour._meta.db_table)} ({', '.join(q(c) for c in columns)}) "
        f"SELECT %s, {', '.join(q(a) for a in aliases)} FROM ({inner}) AS g"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [organization_id, *params])


def _waits_rebuild(organization_id: int, hi: datetime, touched: tuple[str, list] | None) -> None:
    """Replace the ReplyWait rows of the conversations `touched` selects (a query of
    conversation ids; every conversation when None), for replies before hi. The same
    turns as the report's live query (sections.responses._waiting_sql), over each
    conversation's whole history."""
    q = connection.ops.quote_name
    msg, ts, waits = q(Message._meta.db_table), q("timestamp"), q(ReplyWait._meta.db_table)
    conv_filter, conv_params = "", []
    if touched is not None:
        conv_filter = f" AND conversation_id IN ({touched[0]})"
        conv_params = list(touched[1])
    marked = (
        "SELECT c, ts, id, biz, LAG(biz) OVER (PARTITION BY c ORDER BY ts, id) AS prev FROM ("
        f"SELECT conversation_id AS c, {ts} AS ts, id, "
        "CASE WHEN direction = 'out' THEN 1 ELSE 0 END AS biz "
        f"FROM {msg} WHERE organization_id = %s AND {ts} < %s "
        "AND ((direction = 'in' AND author_type = 'customer') OR (direction = 'out' AND author_type IN ('agent', 'bot')))"
        f"{conv_filter}) AS m"
    )
    edges = (
        "SELECT c, ts AS s, biz, LEAD(ts) OVER (PARTITION BY c ORDER BY ts, id) AS e, "
        "LEAD(id) OVER (PARTITION BY c ORDER BY ts, id) AS e_id, "
        "LEAD(biz) OVER (PARTITION BY c ORDER BY ts, id) AS next_biz "
        f"FROM ({marked}) AS k WHERE (biz = 0 AND (prev IS NULL OR prev = 1)) OR (biz = 1 AND prev = 0)"
    )
    delete = f"DELETE FROM {waits} WHERE organization_id = %s{conv_filter}"
    elapsed, _ = sql.elapsed_seconds("e", "s")
    insert = (
        f"INSERT INTO {waits} (organization_id, conversation_id, reply_id, reply_at, started_at, seconds) "
        f"SELECT %s, c, e_id, e, s, {elapsed} FROM ({edges}) AS t WHERE biz = 0 AND next_biz = 1 ORDER BY e"
    )
    with connection.cursor() as cursor:
        cursor.execute(delete, [organization_id, *conv_params])
        cursor.execute(insert, [organization_id, organization_id, hi, *conv_params])


def _facts_rebuild(organization_id: int, hi: datetime, touched=None) -> None:
    """Replace the ConversationFacts rows of the conversations `touched` selects (a
    queryset of conversation ids; every conversation when None): the last bot and
    the last agent message before hi."""
    rows = ConversationFacts.objects.filter(organization_id=organization_id)
    msgs = Message.objects.filter(organization_id=organization_id, timestamp__lt=hi, direction=Direction.OUTBOUND,
                                  author_type__in=(Author.AGENT, Author.BOT))
    if touched is not None:
        rows = rows.filter(conversation_id__in=touched)
        msgs = msgs.filter(conversation_id__in=touched)
    rows.delete()
    grouped = (
        msgs.values(k_conversation=F("conversation_id"))
        .annotate(k_bot=Max("timestamp", filter=Q(author_type=Author.BOT)),
                  k_agent=Max("timestamp", filter=Q(author_type=Author.AGENT)))
        .order_by()
    )
    inner, params = sql.compiled(grouped)
    q = connection.ops.quote_name
    columns = ("conversation_id", "organization_id", "bot_last_at", "agent_last_at")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(ConversationFacts._meta.db_table)} ({', '.join(q(c) for c in columns)}) "
            f"SELECT k_conversation, %s, k_bot, k_agent FROM ({inner}) AS g",
            [organization_id, *params],
        )


@transaction.atomic
def rollup_refresh(*, organization_id: int, now: datetime | None = None, full: bool = False) -> RollupResult:
    """Roll an organisation's messages up to the last closed UTC hour before `now`.
    The first run (or `full`) builds everything; later runs recompute the trailing
    SETTLE window (delivery statuses still arriving), the hours of messages stored
    since the previous run with an older timestamp (late arrivals), and the waits of
    every conversation with a message in either."""
    started = timezone.now()
    until = _hour_floor(now or started)
    Organization.objects.select_for_update().filter(pk=organization_id).first()  # one refresh at a time
    state = RollupState.objects.filter(organization_id=organization_id).first()
    if state is None or full:
        _hours_rebuild(organization_id, None, until)
        _waits_rebuild(organization_id, until, None)
        _facts_rebuild(organization_id, until, None)
        hours, conversations = -1, "all"
        full = True
    else:
        settle_start = min(state.until, until - SETTLE)
        since = state.checked_at - LATE_MARGIN
        late = Message.objects.filter(
            organization_id=organization_id, created_at__gte=since, timestamp__lt=settle_start
        )
        late_hours = sorted(set(late.annotate(h=TruncHour("timestamp", tzinfo=UTC)).values_list("h", flat=True)))
        for hour in late_hours:
            hour = hour.astimezone(UTC) if hour.tzinfo else hour.replace(tzinfo=UTC)
            _hours_rebuild(organization_id, hour, hour + timedelta(hours=1))
        _hours_rebuild(organization_id, settle_start, until)
        touched = Message.objects.filter(organization_id=organization_id, timestamp__lt=until).filter(
            Q(timestamp__gte=settle_start) | Q(created_at__gte=since)
        ).values("conversation_id")
        _waits_rebuild(organization_id, until, sql.compiled(touched))
        _facts_rebuild(organization_id, until, touched)
        hours = len(late_hours) + int((until - settle_start) / timedelta(hours=1))
        conversations = "recent"
    RollupState.objects.update_or_create(
        organization_id=organization_id, defaults={"until": until, "checked_at": started}
    )
    return RollupResult(organization_id, until, full, hours, conversations)


def rollup_refresh_all(*, now: datetime | None = None) -> list[dict]:
    """Every organisation's roll-ups (the periodic task)."""
    return [rollup_refresh(organization_id=pk, now=now).as_dict()
            for pk in Organization.objects.order_by("pk").values_list("pk", flat=True)]
