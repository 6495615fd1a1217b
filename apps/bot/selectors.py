"""The bot's read queries."""

from __future__ import annotations

from django.db.models import Q

from .models import BotSettings


def settings_for(*, organization_id: int, number_id: int | None) -> BotSettings | None:
    """The number's own settings, else the organisation's."""
    rows = {
        row.number_id: row
        for row in BotSettings.objects.filter(organization_id=organization_id)
        .filter(_number_filter(number_id))
        .select_related("create_quote_team", "order_status_team", "talk_to_human_team")
    }
    return rows.get(number_id) or rows.get(None)


def _number_filter(number_id):
    return (Q(number__isnull=True) | Q(number_id=number_id)) if number_id else Q(number__isnull=True)
