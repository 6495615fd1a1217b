"""Sections on what the business sent: delivery and templates; SECTIONS, the report's order."""

from __future__ import annotations

from django.db import connection
from django.db.models import Case, CharField, Count, F, Max, Q, Sum, When
from django.db.models.fields.json import KT
from django.utils.translation import gettext_lazy as _

from apps.messaging.models import Author, Direction, MessageType, Status
from apps.providers.meta.errors import ERROR_CODES

from .. import sql
from ..models import MessageHour
from ..params import ReportParams
from ..stages import stage_counts
from .base import (
    OUTBOUND_COLUMNS, _union_sql, TOP_FAILURES, Table, messages, _shared,
    rolled_until, _int, _fetch,
)


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
            **stage_counts(),
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


