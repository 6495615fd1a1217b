"""What the side panels show and offer: read helpers scoped to the user, the choices
following apps.accounts.access."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import formats, timezone
from django.utils.translation import gettext_lazy

from apps.accounts import access
from apps.conversations import access as contact_access
from apps.accounts import selectors as account_selectors
from apps.bot.selectors import conversation_bot_unavailable_reason
from apps.conversations import selectors
from apps.conversations.block_selectors import conversation_block
from apps.conversations.models import Conversation

from .presenters import zone_of


EVENING = time(19, 0)  # "tonight"
MORNING = time(9, 0)  # "tomorrow" and "next week" (Monday)


def snooze_presets(*, zone, now: datetime | None = None) -> list[dict]:
    """The snooze shortcuts, in the organisation's time zone: in 1 hour, tonight (while
    it is still before the evening), tomorrow morning, next Monday morning."""
    local = timezone.localtime(now or timezone.now(), zone)
    today = local.date()

    def at(day, moment):
        return datetime.combine(day, moment, tzinfo=zone)

    presets = [("hour", gettext_lazy("In 1 hour"), local + timedelta(hours=1))]
    if local.time() < time(EVENING.hour - 1):
        presets.append(("tonight", gettext_lazy("Tonight"), at(today, EVENING)))
    presets.append(("tomorrow", gettext_lazy("Tomorrow"), at(today + timedelta(days=1), MORNING)))
    presets.append(("next-week", gettext_lazy("Next week"), at(today + timedelta(days=7 - today.weekday()), MORNING)))
    return [{"key": key, "label": label, "at": moment.isoformat(timespec="minutes"),
             "when": formats.date_format(moment, "SHORT_DATETIME_FORMAT")} for key, label, moment in presets]


def actions_context(*, user, conversation) -> dict:
    """What the actions panel shows and offers: choices follow apps.accounts.access."""
    supervisor = user.is_supervisor_or_admin
    users = list(account_selectors.user_list(user=user)) if supervisor else []
    teams = list(account_selectors.team_list(user=user)) if supervisor else []
    current = set(conversation.labels.values_list("pk", flat=True))
    labels = [{"label": label, "on": label.pk in current} for label in selectors.label_list(user=user)]
    return {
        "conversation": conversation,
        "user": user,
        "can_act": access.can_act_on_conversation(user, conversation),
        "can_assign_others": supervisor,
        "can_take": access.can_assign(user, conversation, assignee=user) and conversation.assignee_id != user.pk,
        "can_release": conversation.assignee_id is not None and access.can_assign(user, conversation, assignee=None),
        "users": users,
        "teams": teams,
        "labels": labels,
        "statuses": Conversation.Status.choices,
        "priorities": Conversation.Priority.choices,
        "snooze_default": (timezone.localtime() + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"),
        "snooze_presets": snooze_presets(zone=zone_of(conversation.organization)),
        # Why the bot cannot be turned on here (its settings off, no AI), or None.
        "bot_unavailable": None if conversation.bot_active else conversation_bot_unavailable_reason(
            conversation=conversation),
    }


def contact_context(*, user, conversation) -> dict:
    contact = conversation.contact
    previous = (
        Conversation.objects.filter(access.conversation_filter(user, subqueries=True), contact=contact)
        .exclude(pk=conversation.pk)
        .order_by("-created_at", "-id")[:20]
    )
    return {
        "conversation": conversation,
        "contact": contact,
        "can_edit": contact_access.can_edit_contact(user, contact),
        "can_block": contact_access.can_block_contact(user, contact),
        "block": conversation_block(conversation=conversation),
        "previous": list(previous),
        "attributes": sorted((contact.attributes or {}).items()),
    }
