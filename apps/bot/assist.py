"""Agent assist: a suggested reply the agent edits before sending, and a summary of
the conversation on demand. Both call the model through apps/bot/client.py."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from apps.accounts import access

from . import client
from .knowledge import retrieve
from .models import BotSettings
from .selectors import ai_unavailable_reason, settings_for
from .services import build_messages


class AssistUnavailable(Exception):
    """The bot is not configured (no API key): the API answers 503."""


def _settings(conversation) -> BotSettings:
    found = settings_for(organization_id=conversation.organization_id, number_id=conversation.number_id)
    reason = ai_unavailable_reason(bot_settings=found)
    if reason:
        raise AssistUnavailable(reason)
    # Without saved settings the defaults of a new row apply (not stored).
    return found or BotSettings(organization_id=conversation.organization_id)


def _latest_customer_text(conversation) -> str:
    from apps.messaging.models import Message

    latest = (
        Message.objects.filter(conversation=conversation, direction="in")
        .exclude(text="").order_by("-timestamp", "-id").values_list("text", flat=True).first()
    )
    return latest or ""


def assist_suggest(*, conversation, user) -> str:
    """A reply for the agent to edit. Raises PermissionDenied, AssistUnavailable,
    client.AIError."""
    if not access.can_act_on_conversation(user, conversation):
        raise PermissionDenied("You may not act on this conversation.")
    bot_settings = _settings(conversation)
    passages = retrieve(organization_id=conversation.organization_id, query=_latest_customer_text(conversation),
                        limit=bot_settings.passages_per_answer, bot_settings=bot_settings)
    messages = build_messages(conversation=conversation, bot_settings=bot_settings, passages=passages, task="suggest")
    messages[0]["content"] += (
        f"\n\nYou are helping {user.name}, a person of the business, write the next reply to the customer. "
        "Write only the reply text, ready to send."
    )
    answer = client.chat(organization_id=conversation.organization_id, messages=messages, bot_settings=bot_settings)
    if not answer.text:
        raise client.AIError("invalid", _("The AI service gave an empty answer."))
    return answer.text


def assist_summary(*, conversation, user) -> str:
    """A short summary of the conversation for the agent."""
    if not access.can_view_conversation(user, conversation):
        raise PermissionDenied("You may not see this conversation.")
    bot_settings = _settings(conversation)
    messages = build_messages(conversation=conversation, bot_settings=bot_settings, task="summary")
    messages[0]["content"] = (
        "Summarise this WhatsApp conversation between a customer and a business for the agent taking it over: "
        "who the customer is, what they want, what was answered or promised, and what is still open. "
        "At most 5 short bullet points.\n\n" + messages[0]["content"].split("\n\n", 1)[-1]
    )
    answer = client.chat(organization_id=conversation.organization_id, messages=messages, bot_settings=bot_settings)
    if not answer.text:
        raise client.AIError("invalid", _("The AI service gave an empty answer."))
    return answer.text
