"""Sections on what messaging costs and where conversations come from: messages and
their estimated cost by pricing category, number and template (Meta's per-message
pricing and the organisation's rate table, reports.PricingRate), WhatsApp calls, and
conversations started from a click-to-WhatsApp ad or product (referrals)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count
from django.db.models.fields.json import KT
from django.utils.translation import gettext_lazy as _

from apps.messaging.models import Direction, MessageType

from .. import sql
from ..params import ReportParams
from .base import Table, messages


def _money(value) -> str:
    return "" if value is None else str(Decimal(value).quantize(Decimal("0.0001")))


def cost(p: ReportParams, ctx: dict | None = None) -> list[Table]:
    from apps.whatsapp.models import WhatsAppNumber

    inner = (
        messages(p)
        .filter(direction=Direction.OUTBOUND)
        .exclude(pricing_category="")
        .values("pk")
    )
    rows = sql.message_costs(*sql.compiled(inner))
    numbers = (
        dict(
            WhatsAppNumber.objects.filter(pk__in={row[0] for row in rows}).values_list(
                "pk", "display_phone_number"
            )
        )
        if rows
        else {}
    )
    by_category: dict[tuple, list] = {}
    by_number: dict[str, list] = {}
    by_template: dict[tuple, list] = {}
    for (
        number_id,
        category,
        kind,
        template,
        language,
        count,
        billable,
        estimated,
        currency,
    ) in rows:
        for table, key in (
            (by_category, (category, kind)),
            (by_number, (numbers.get(number_id, ""),)),
            (by_template, (template, language or "", category))
            if template
            else (None, None),
        ):
            if table is None:
                continue
            entry = table.setdefault(key, [0, 0, None, ""])
            entry[0] += count
            entry[1] += billable
            if estimated is not None:
                entry[2] = (entry[2] or Decimal(0)) + estimated
                entry[3] = entry[3] or currency or ""

    def table_rows(grouped):
        return [
            [*key, n, billable, _money(estimated), currency]
            for key, (n, billable, estimated, currency) in sorted(
                grouped.items(), key=lambda i: (-i[1][0], i[0])
            )
        ]

    tail = ["messages", "billable", "estimated_cost", "currency"]
    return [
        Table(
            "cost-by-category",
            _("Messages and estimated cost by pricing category"),
            ["category", "pricing_type", *tail],
            table_rows(by_category),
        ),
        Table(
            "cost-by-number",
            _("Messages and estimated cost by number"),
            ["number", *tail],
            table_rows(by_number),
        ),
        Table(
            "cost-by-template",
            _("Messages and estimated cost by template"),
            ["template", "language", "category", *tail],
            table_rows(by_template),
        ),
    ]


def calls(p: ReportParams, ctx: dict | None = None) -> list[Table]:
    qs = (
        messages(p)
        .filter(type=MessageType.CALL)
        .annotate(
            outcome=KT("content__outcome"), call_direction=KT("content__direction")
        )
    )
    rows = [
        [
            row["call_direction"] or "",
            row["outcome"] or "",
            row["n"],
            int(row["seconds"] or 0),
        ]
        for row in qs.values("call_direction", "outcome")
        .annotate(n=Count("pk"), seconds=_duration_sum())
        .order_by("call_direction", "outcome")
    ]
    return [
        Table(
            "calls",
            _("WhatsApp calls"),
            ["call_direction", "outcome", "count", "duration_seconds"],
            rows,
        )
    ]


def _duration_sum():
    from django.db.models import IntegerField, Sum
    from django.db.models.functions import Cast

    return Sum(Cast(KT("content__duration"), IntegerField()))


def referrals(p: ReportParams, ctx: dict | None = None) -> list[Table]:
    qs = (
        messages(p)
        .filter(direction=Direction.INBOUND, referral__isnull=False)
        .annotate(
            source_type=KT("referral__source_type"),
            source_id=KT("referral__source_id"),
            headline=KT("referral__headline"),
            source_url=KT("referral__source_url"),
        )
        .values("source_type", "source_id", "headline", "source_url")
        .annotate(
            conversations=Count("conversation", distinct=True),
            n=Count("pk"),
            contacts=Count("conversation__contact", distinct=True),
        )
    )
    rows = [
        [
            row["source_type"] or "",
            row["source_id"] or "",
            row["headline"] or "",
            row["source_url"] or "",
            row["conversations"],
            row["contacts"],
            row["n"],
        ]
        for row in qs.order_by("-conversations", "source_type", "source_id")
    ]
    return [
        Table(
            "referrals",
            _("Conversations from ads and products"),
            [
                "source_type",
                "source_id",
                "headline",
                "source_url",
                "conversations",
                "contacts",
                "messages",
            ],
            rows,
        )
    ]
