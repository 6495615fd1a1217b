"""Sections on activity: summary, volume, messages by type and author, the heatmap, opt-outs."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate, TruncHour
from django.utils.translation import gettext_lazy as _

from apps.messaging.models import Author, Direction, MessageType

from .. import sql
from ..models import MessageHour
from ..params import ReportParams
from .base import (
    RESOLVED, OPT_ACTIONS, Table, conversations, messages, audit, _days, _opened_by_day, _audit_events, _shared,
    rolled_until, _int, _EpochSeconds, _fetch,
)

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
