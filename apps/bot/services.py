"""The bot's use-cases: the inbound hook, answering a customer message, hand-off.

Flow: the inbound pipeline (apps.inbound.services.processing) has a customer message
stored and calls `bot_on_inbound_message`, which decides from rows already in memory whether the bot
may apply and enqueues `bot.reply` on commit. The task calls `bot_message_handle`:
one BotRun per inbound message (unique), the "never" checks, then a reply, or a
hand-off to people. Agent assist (suggested reply, summary) is in apps/bot/assist.py.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import client, context
from .knowledge import retrieve
from .models import INTENTS, BotRun, BotSettings, KnowledgePassage
from .selectors import conversation_bot_unavailable_reason, settings_for

logger = logging.getLogger(__name__)

# The hook asks "is the bot on anywhere in this organisation?" for every customer
# message; the answer is kept in memory for a few seconds per process so the hook
# costs no query. A change made through the admin clears it in that process at once.
ENABLED_MEMO_SECONDS = 10.0
_enabled_memo: dict[int, tuple[float, bool]] = {}
_memo_lock = threading.Lock()

# Who stops the bot in a conversation for good (until an agent turns it on again).
STOPPING_ACTIONS = ("bot.handoff", "bot.activated", "conversation.bot_disabled", "conversation.bot_enabled")
SKIPPED_TYPES = ("system", "reaction", "unsupported")


def enabled_memo_clear(organization_id: int | None = None) -> None:
    with _memo_lock:
        if organization_id is None:
            _enabled_memo.clear()
        else:
            _enabled_memo.pop(organization_id, None)


def _bot_enabled_somewhere(organization_id: int) -> bool:
    now = time.monotonic()
    cached = _enabled_memo.get(organization_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    enabled = BotSettings.objects.filter(organization_id=organization_id, enabled=True).exists()
    with _memo_lock:
        _enabled_memo[organization_id] = (now + ENABLED_MEMO_SECONDS, enabled)
    return enabled


def bot_on_inbound_message(*, message) -> None:
    """Called once a new customer message is stored. Cheap: no query where no bot is
    on in the organisation (a per-process memory of a few seconds); otherwise it looks
    at the conversation and, unless an agent holds it, enqueues the bot task on
    commit. The task checks everything again on fresh rows."""
    if message.direction != "in" or message.author_type != "customer" or message.type in SKIPPED_TYPES:
        return
    # Where no bot is on, the task could do nothing: decided without touching the
    # conversation (a batch may not have it loaded).
    if not _bot_enabled_somewhere(message.organization_id):
        return
    if message.conversation.assignee_id is not None:
        return
    from apps.core.tasks import enqueue

    enqueue("bot.reply", message.pk)


# --- Settings --------------------------------------------------------------------------


def bot_settings_saved(*, bot_settings: BotSettings) -> None:
    """After the admin saved settings: the hook's memory of this organisation is stale."""
    enabled_memo_clear(bot_settings.organization_id)


def conversation_bot_set(*, conversation, actor, active: bool):
    """Turn the bot on or off in a conversation, for every door (the inbox, the API).
    Turning it on where it could not answer (its settings off, no API key) is refused
    with the reason (ValidationError), and nothing changes: the customer would get no
    answer at all."""
    from django.core.exceptions import ValidationError

    from apps.accounts import access
    from apps.conversations.services import conversation_set_bot

    if active and access.can_act_on_conversation(actor, conversation):  # else refused as not allowed
        reason = conversation_bot_unavailable_reason(conversation=conversation)
        if reason:
            raise ValidationError(reason, code="bot_unavailable")
    return conversation_set_bot(conversation=conversation, actor=actor, active=active)


# --- Answering a message ------------------------------------------------------------------


def _finish(run: BotRun, status: str, reason: str = "", **fields) -> BotRun:
    run.status, run.reason, run.finished_at = status, reason[:60], timezone.now()
    for key, value in fields.items():
        setattr(run, key, value)
    run.save()
    return run


def _may_activate(conversation) -> bool:
    """The bot takes a conversation it has never seen, unless someone turned it off."""
    from apps.conversations.models import AuditLogEntry

    return not AuditLogEntry.objects.filter(conversation=conversation, action__in=STOPPING_ACTIONS).exists()


def _activate(conversation) -> bool:
    from apps.conversations.models import AuditLogEntry, Conversation
    from apps.conversations.services import conversation_publish

    with transaction.atomic():
        changed = Conversation.objects.filter(pk=conversation.pk, bot_active=False, assignee__isnull=True).update(
            bot_active=True, updated_at=timezone.now()
        )
        if not changed:
            return False
        conversation.bot_active = True
        AuditLogEntry.objects.create(
            organization_id=conversation.organization_id, conversation=conversation, action="bot.activated", data={}
        )
        conversation_publish(conversation)
    return True


def _send_text(*, conversation, run: BotRun, text: str, key: str) -> list[int]:
    """Send `text` as the bot (split at WhatsApp's 4,096 characters). Idempotent per
    run and key: a task run again sends nothing twice."""
    from apps.messaging.services.send import message_send

    ids = []
    for index, part in enumerate(context.split_text(text)):
        sent = message_send(
            conversation=conversation, author=None, author_type="bot", kind="text", payload={"body": part},
            idempotency_key=f"bot:{run.message_id}:{key}:{index}",
        )
        ids.append(sent.pk)
    return ids


def _send_choices(*, conversation, run: BotRun, text: str, choices: list[str]) -> list[int]:
    """A reply with up to 3 reply buttons (titles of at most 20 characters)."""
    from apps.messaging.services.send import message_send
    from apps.messaging.validation import BODY_MAX, BUTTON_TITLE_MAX, BUTTONS_MAX

    titles: list[str] = []
    for choice in choices:
        title = " ".join(str(choice).split())[:BUTTON_TITLE_MAX].strip()
        if title and title not in titles:
            titles.append(title)
        if len(titles) == BUTTONS_MAX:
            break
    if not titles:
        return _send_text(conversation=conversation, run=run, text=text, key="reply")
    ids = []
    body = text.strip() or "Please choose:"
    if len(body) > BODY_MAX:  # the long part as text, the question with the buttons
        ids += _send_text(conversation=conversation, run=run, text=body, key="reply")
        body = "Please choose:"
    sent = message_send(
        conversation=conversation, author=None, author_type="bot", kind="interactive",
        payload={"type": "button", "body": body,
                 "buttons": [{"id": f"bot-choice-{i}", "title": t} for i, t in enumerate(titles)]},
        idempotency_key=f"bot:{run.message_id}:choices",
    )
    return ids + [sent.pk]


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "handoff",
            "description": "Hand the conversation to a person of the business: the customer asks for one, the "
                           "question needs a human (quotes, orders, complaints), or you cannot help.",
            "parameters": {
                "type": "object",
                "properties": {
                    "reason": {"type": "string", "description": "Why a person should take over."},
                    "intent": {"type": "string", "enum": list(INTENTS)},
                    "summary": {"type": "string", "description": "What the customer wants, for the agent."},
                },
                "required": ["reason", "intent", "summary"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "offer_choices",
            "description": "Reply with a short text and up to 3 choices the customer can tap (each at most 20 "
                           "characters).",
            "parameters": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "choices": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                },
                "required": ["text", "choices"],
            },
        },
    },
]


def build_messages(*, conversation, bot_settings: BotSettings, upto=None, passages=(), task: str = "reply"
                   ) -> list[dict]:
    """The model's input: instructions, the business's facts, the knowledge passages
    and the last N messages of the conversation with their authors."""
    from apps.messaging.models import Message

    organization = conversation.organization
    contact = conversation.contact
    try:
        ranges = context.parse_hours(bot_settings.business_hours)
    except context.HoursError:
        ranges = []
    now = context.local_now(organization)
    facts = [
        f"Business: {organization.name}.",
        f"Customer's name: {contact.display_name}.",
        f"Now: {now:%A %Y-%m-%d %H:%M} ({organization.timezone}).",
        f"Business hours: {context.describe_hours(ranges)}"
        + (f" (now {'open' if context.within_hours(ranges, now) else 'closed'})." if ranges else "."),
    ]
    system = [bot_settings.system_prompt.strip(), "\n".join(facts)]
    if passages:
        system.append("Business information (answer from it; say so when it does not cover the question):\n"
                      + "\n\n".join(f"[{i + 1}] ({p.source}) {p.text}" for i, p in enumerate(passages)))
    if task == "reply":
        system.append("Call handoff when a person should take over; call offer_choices when the customer should "
                      "pick one of a few options. Otherwise answer in plain text.")
    history = Message.objects.filter(conversation=conversation).exclude(type__in=("reaction", "system"))
    if upto is not None:
        history = history.filter(timestamp__lte=upto.timestamp)
    history = list(history.select_related("author").order_by("-timestamp", "-id")[: max(1, bot_settings.context_messages)])
    messages = [{"role": "system", "content": "\n\n".join(s for s in system if s)}]
    for item in reversed(history):
        text = context.describe_message(item)
        if item.direction == "in":
            messages.append({"role": "user", "content": text})
        elif item.author_type == "bot":
            messages.append({"role": "assistant", "content": text})
        else:
            who = item.author.name if item.author_id else item.get_author_type_display()
            messages.append({"role": "assistant", "content": f"[{who}] {text}"})
    return messages


def _no_progress(*, conversation, message, passages, bot_settings) -> bool:
    """This turn makes no progress: the customer repeats one of their last messages,
    or the organisation has a knowledge base and nothing in it matched."""
    from apps.messaging.models import Message

    earlier = (
        Message.objects.filter(conversation=conversation, direction="in", timestamp__lte=message.timestamp)
        .exclude(pk=message.pk).order_by("-timestamp", "-id").values_list("text", flat=True)[:5]
    )
    if message.text and any(context.similar(message.text, text) for text in earlier if text):
        return True
    has_knowledge = KnowledgePassage.objects.filter(organization_id=conversation.organization_id).exists()
    return has_knowledge and not passages


def _turns_without_progress(conversation, run: BotRun) -> int:
    """Bot replies in a row before `run` (latest first) that made no progress."""
    count = 0
    runs = BotRun.objects.filter(conversation=conversation).exclude(status=BotRun.Status.SKIPPED).exclude(pk=run.pk)
    for progress, status in runs.order_by("-created_at", "-id").values_list("progress", "status")[:50]:
        if status != BotRun.Status.REPLIED or progress:
            break
        count += 1
    return count


def _reclaim_stale_run(message) -> BotRun | None:
    """A run left "started" by a worker that died (Celery redelivers the task): take
    it over once it is older than any model call could be. Safe: every message the
    bot sends has an idempotency key, so what was sent before is not sent again."""
    from datetime import timedelta

    from django.conf import settings

    stale = timezone.now() - timedelta(
        seconds=settings.OPENAI_TIMEOUT * max(1, settings.OPENAI_MAX_ATTEMPTS) + 120
    )
    claimed = BotRun.objects.filter(message=message, status=BotRun.Status.STARTED, created_at__lt=stale).update(
        created_at=timezone.now()
    )
    return BotRun.objects.get(message=message) if claimed else None


def bot_message_handle(*, message_id: int) -> BotRun | None:
    """Answer one customer message, or hand the conversation to people. Never twice
    for a message (the BotRun is unique per message), never a crash: an AI failure
    becomes the fallback message and a hand-off."""
    from apps.messaging.models import Message

    message = (
        Message.objects.select_related("conversation__contact", "conversation__organization", "conversation__number")
        .filter(pk=message_id, direction="in").first()
    )
    if message is None:
        return None
    conversation = message.conversation
    bot_settings = settings_for(organization_id=conversation.organization_id, number_id=conversation.number_id)
    if bot_settings is None or not bot_settings.enabled:
        return None  # no bot here: nothing to record
    try:
        with transaction.atomic():
            run = BotRun.objects.create(
                organization_id=message.organization_id, conversation=conversation, message=message
            )
    except IntegrityError:
        run = _reclaim_stale_run(message)
        if run is None:
            return None  # this message was handled (or is being handled) already
    if not client.is_configured(bot_settings):
        return _finish(run, BotRun.Status.SKIPPED, "not_configured")
    if conversation.assignee_id is not None:
        return _finish(run, BotRun.Status.SKIPPED, "assigned")
    if conversation.status == "resolved":
        return _finish(run, BotRun.Status.SKIPPED, "resolved")
    just_activated = False
    if not conversation.bot_active:
        if not _may_activate(conversation) or not _activate(conversation):
            return _finish(run, BotRun.Status.SKIPPED, "bot_inactive")
        just_activated = True
    if conversation.contact.opted_out:
        return _finish(run, BotRun.Status.SKIPPED, "opted_out")
    if not conversation.window_open():
        return _finish(run, BotRun.Status.SKIPPED, "window_closed")
    newer = Message.objects.filter(conversation=conversation, direction="in", timestamp__gt=message.timestamp)
    if newer.exists():
        return _finish(run, BotRun.Status.SKIPPED, "superseded")
    try:
        ranges = context.parse_hours(bot_settings.business_hours)
    except context.HoursError:
        ranges = []
    if ranges and bot_settings.hours_mode != BotSettings.HoursMode.ALWAYS:
        inside = context.within_hours(ranges, context.local_now(conversation.organization))
        if inside and bot_settings.hours_mode == BotSettings.HoursMode.OUTSIDE:
            return _finish(run, BotRun.Status.SKIPPED, "inside_business_hours")
        if not inside and bot_settings.hours_mode == BotSettings.HoursMode.INSIDE:
            return _finish(run, BotRun.Status.SKIPPED, "outside_business_hours")
    return _answer(run=run, message=message, conversation=conversation, bot_settings=bot_settings,
                   just_activated=just_activated)


def _answer(*, run, message, conversation, bot_settings, just_activated: bool) -> BotRun:
    from apps.messaging.validation import SendError

    reply_ids: list[int] = []
    try:
        if just_activated and bot_settings.welcome_message.strip():
            reply_ids += _send_text(conversation=conversation, run=run, text=bot_settings.welcome_message,
                                    key="welcome")
        if message.type == "request_welcome":
            return _finish(run, BotRun.Status.REPLIED, "welcome", reply_ids=reply_ids)
        keyword = context.phrase_in(bot_settings.handoff_keywords, message.text)
        if keyword:
            return bot_handoff(run=run, conversation=conversation, bot_settings=bot_settings, reason="keyword",
                               intent="talk_to_human", detail=f"asked for a person: “{keyword}”")
        topic = context.phrase_in(bot_settings.sensitive_topics, message.text)
        if topic:
            return bot_handoff(run=run, conversation=conversation, bot_settings=bot_settings,
                               reason="sensitive_topic", intent="talk_to_human", detail=f"sensitive topic: “{topic}”")
        query = message.text or context.describe_message(message)
        passages = retrieve(organization_id=conversation.organization_id, query=query,
                            limit=bot_settings.passages_per_answer, bot_settings=bot_settings)
        run.passage_ids = [p.pk for p in passages]
        progress = not _no_progress(conversation=conversation, message=message, passages=passages,
                                    bot_settings=bot_settings)
        if not progress and _turns_without_progress(conversation, run) + 1 >= max(1, bot_settings.max_turns_without_progress):
            return bot_handoff(run=run, conversation=conversation, bot_settings=bot_settings, reason="no_progress",
                               intent="talk_to_human",
                               detail=f"{bot_settings.max_turns_without_progress} turns without progress")
        messages = build_messages(conversation=conversation, bot_settings=bot_settings, upto=message,
                                  passages=passages)
        try:
            answer = client.chat(organization_id=conversation.organization_id, messages=messages,
                                 bot_settings=bot_settings, tools=TOOLS)
        except client.AIError as error:
            return bot_handoff(run=run, conversation=conversation, bot_settings=bot_settings, reason="ai_error",
                               intent="talk_to_human", detail=error.detail, failed=True)
        run.prompt_tokens, run.completion_tokens = answer.prompt_tokens, answer.completion_tokens
        if _taken_over(conversation):  # an agent took it (or turned the bot off) while the model thought
            return _finish(run, BotRun.Status.SKIPPED, "taken_over")
        calls = {call.name: call.arguments for call in answer.tool_calls}
        if "handoff" in calls:
            args = calls["handoff"]
            return bot_handoff(run=run, conversation=conversation, bot_settings=bot_settings,
                               reason=str(args.get("reason") or "model")[:200], intent=str(args.get("intent") or ""),
                               summary=str(args.get("summary") or ""), detail="the model asked for a person")
        if "offer_choices" in calls and isinstance(calls["offer_choices"].get("choices"), list):
            args = calls["offer_choices"]
            reply_ids += _send_choices(conversation=conversation, run=run,
                                       text=str(args.get("text") or answer.text), choices=args["choices"])
        elif answer.text:
            reply_ids += _send_text(conversation=conversation, run=run, text=answer.text, key="reply")
        else:
            return bot_handoff(run=run, conversation=conversation, bot_settings=bot_settings, reason="ai_error",
                               intent="talk_to_human", detail="the model gave an empty answer", failed=True)
        return _finish(run, BotRun.Status.REPLIED, progress=progress, reply_ids=reply_ids)
    except SendError as error:
        # The conversation changed under us (opt-out, window): nothing more can go out.
        logger.info("bot reply to message %s not sent: %s", message.pk, error)
        return _finish(run, BotRun.Status.SKIPPED, f"send_refused:{error.code}", reply_ids=reply_ids)


def _taken_over(conversation) -> bool:
    from apps.conversations.models import Conversation

    state = Conversation.objects.filter(pk=conversation.pk).values("assignee_id", "bot_active").first()
    return state is None or state["assignee_id"] is not None or not state["bot_active"]


def _plain_summary(conversation, limit: int = 5) -> str:
    from apps.messaging.models import Message

    recent = list(
        Message.objects.filter(conversation=conversation, direction="in").order_by("-timestamp", "-id")[:limit]
    )
    lines = [f"- {context.describe_message(m)}"[:300] for m in reversed(recent)]
    return "Customer's last messages:\n" + "\n".join(lines) if lines else ""


def bot_handoff(*, run: BotRun | None, conversation, bot_settings: BotSettings | None, reason: str, intent: str = "",
                summary: str = "", detail: str = "", failed: bool = False) -> BotRun | None:
    """The bot stops and people take over: bot off, a private note for the agent, the
    conversation unassigned (or given to the intent's team), the customer told (the
    fallback message when the AI failed), and an audit entry "bot.handoff"."""
    from apps.conversations.models import AuditLogEntry, Conversation, Note
    from apps.conversations.serializers import NoteSerializer
    from apps.conversations.services import conversation_publish, conversation_publish_lost
    from apps.messaging.validation import SendError
    from apps.realtime import groups
    from apps.realtime.publish import publish

    intent = intent if intent in INTENTS else "talk_to_human"
    team = bot_settings.team_for_intent(intent) if bot_settings is not None else None
    note_lines = [f"Bot hand-off ({reason}{': ' + detail if detail else ''})."]
    if intent:
        note_lines.append(f"Intent: {intent}.")
    if summary:
        note_lines.append(f"Summary: {summary}")
    plain = _plain_summary(conversation)
    if plain:
        note_lines.append(plain)
    before_groups = groups.conversation_groups(conversation)
    with transaction.atomic():
        changes = {"bot_active": False, "updated_at": timezone.now()}
        if team is not None:
            changes["team"] = team
        Conversation.objects.filter(pk=conversation.pk).update(**changes)
        conversation.bot_active = False
        if team is not None:
            conversation.team = team
        note = Note.objects.create(
            organization_id=conversation.organization_id, conversation=conversation, author=None,
            body="\n".join(note_lines)[:10000],
        )
        AuditLogEntry.objects.create(
            organization_id=conversation.organization_id, conversation=conversation, action="bot.handoff",
            data={"reason": reason, "intent": intent, "team_id": team.pk if team else None, "note_id": note.pk},
        )
        publish("note.created", NoteSerializer(note).data, groups=groups.conversation_groups(conversation))
        conversation_publish(conversation)
        if team is not None:  # agents who saw it before and no longer do must hear so
            conversation_publish_lost(conversation, before=before_groups)
    reply_ids = list(run.reply_ids) if run is not None else []
    text = (bot_settings.fallback_message if failed else bot_settings.handoff_message) if bot_settings else ""
    if text and text.strip() and run is not None:
        try:
            reply_ids += _send_text(conversation=conversation, run=run, text=text, key="handoff")
        except SendError as error:
            logger.info("hand-off message for conversation %s not sent: %s", conversation.pk, error)
    if run is None:
        return None
    return _finish(run, BotRun.Status.HANDED_OFF, reason, intent=intent, reply_ids=reply_ids, progress=False)
