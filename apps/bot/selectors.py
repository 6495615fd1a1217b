"""The bot's read queries."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from . import client
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


# --- Whether the AI can answer, and why not ------------------------------------------------
# Asked wherever the bot is switched on (admin, the inbox, the API) and by the agent
# assist's buttons: the customer must never be left with a bot that cannot answer.


def ai_unavailable_reason(*, bot_settings: BotSettings | None) -> str | None:
    """None when there is an API key for these settings (their own, else
    OPENAI_API_KEY); else why the AI cannot answer."""
    if client.is_configured(bot_settings):
        return None
    return _("The AI assistant is not configured: set OPENAI_API_KEY (or the organisation's key in the bot settings).")


def bot_unavailable_reason(*, bot_settings: BotSettings | None) -> str | None:
    """None when the bot answers with these settings (the number's, else the
    organisation's): they are on and have an API key; else why it would not."""
    if bot_settings is None or not bot_settings.enabled:
        return _("The bot is off in the bot settings of this number: an admin turns it on in Django admin "
                 "(Bot settings).")
    return ai_unavailable_reason(bot_settings=bot_settings)


def conversation_bot_unavailable_reason(*, conversation) -> str | None:
    """`bot_unavailable_reason` for the settings that serve this conversation."""
    return bot_unavailable_reason(
        bot_settings=settings_for(organization_id=conversation.organization_id, number_id=conversation.number_id))


def conversation_assist_unavailable_reason(*, conversation) -> str | None:
    """`ai_unavailable_reason` for the agent assist of this conversation (it works with
    the bot off). With OPENAI_API_KEY set, no settings need reading."""
    if client.is_configured(None):
        return None
    return ai_unavailable_reason(
        bot_settings=settings_for(organization_id=conversation.organization_id, number_id=conversation.number_id))
