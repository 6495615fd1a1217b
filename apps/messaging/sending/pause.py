"""A number whose sending Meta refuses as a whole, paused instead of failing its queue.

Some of Meta's errors are not about the message but about the number or its account
(errors.Kind.PAUSE: a permission the app lacks, the number or account blocked,
restricted or unregistered, the spam rate limit). Every message of the number would
fail alike, so on the first one:

- the number's sending is paused (`number_sending_pause`): the reason is stored on
  the number, its organisation's admins are alerted (an audit entry, a live event to
  the organisation, shown in the inbox's composer of the number's conversations), and
  the message that met the error, with every other one of the number, stays queued
  (pending), not failed;
- the claim hands nothing of a paused number to a send (`messages_hold`) but, once
  its check is due (`sending_resume_at`), one message: the check. Its success lifts the
  pause (`number_sending_resume`; the rest go out); the same kind of error puts the
  next check further off (doubling, up to a maximum). The periodic
  `paused_numbers_check` queues the due checks. The spam rate limit (131048) waits
  SEND_SPAM_PAUSE_SECONDS before its first check, as Meta says a quick retry only adds
  to it; the other pauses SEND_PAUSE_CHECK_SECONDS;
- an admin may lift the pause at once (the number's admin action "Resume sending"),
  once the cause is fixed at Meta.

A failed status webhook with such an error pauses the number too (`statuses_pause`):
the message itself had reached Meta and stays failed, the next ones wait.

A pause has a scope (`sending_pause_scope`, from errors.pause_scope): most cover
everything the number sends; 131063 (marketing messages turned off on the Cloud API)
covers its marketing templates only. Then only those wait (with the reason shown);
service replies and utility or authentication templates keep going, only a marketing
template is the check, and only its answer lifts the pause. An error that covers the
whole number met during a scoped pause widens it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.providers.meta import errors

from ..models import MEDIA_TYPES, Direction, Message, MessageType, Status

logger = logging.getLogger(__name__)


def check_delay(code: int | None, checks: int) -> timedelta:
    """The wait before the next check of a pause for `code`, after `checks` failed ones."""
    if code in errors.SPAM_CODES:
        base, most = settings.SEND_SPAM_PAUSE_SECONDS, settings.SEND_SPAM_PAUSE_MAX_SECONDS
    else:
        base, most = settings.SEND_PAUSE_CHECK_SECONDS, settings.SEND_PAUSE_CHECK_MAX_SECONDS
    return timedelta(seconds=min(base * 2 ** min(checks, 20), max(base, most)))


def pause_reason(code: int | None, title: str, text: str, details: str = "") -> str:
    """What agents and admins read: Meta's code, our explanation, Meta's words."""
    described = errors.describe(code) or title
    parts = [f"({code}) {described}" if code is not None else described]
    for more in (text, details):
        if more and more not in parts and more != described:
            parts.append(more)
    return ": ".join(p for p in parts if p)[:2000]


def number_sending_pause(*, number, code: int | None, reason: str, checked: bool = False) -> bool:
    """Pause `number`'s sending for Meta's error `code` (see the module's doc).
    `checked`: the error met the check of a paused number, whose next check is put
    further off (a message of a batch already in flight when the pause began changes
    nothing). Returns True when this started the pause (and alerted the organisation)."""
    from apps.whatsapp.models import WhatsAppNumber

    now = timezone.now()
    scope = errors.pause_scope(code)
    with transaction.atomic():
        fresh = {"sending_paused_at": now, "sending_pause_code": code, "sending_pause_reason": reason,
                 "sending_resume_at": now + check_delay(code, 0), "sending_pause_checks": 0,
                 "sending_pause_scope": scope}
        started = WhatsAppNumber.objects.filter(pk=number.pk, sending_paused_at__isnull=True).update(**fresh)
        if not started and not scope:  # a scoped pause met an error of the whole number: widen it
            started = WhatsAppNumber.objects.filter(pk=number.pk, sending_paused_at__isnull=False).exclude(
                sending_pause_scope="").update(**fresh)
        if started:
            _announce(number, "number.sending_paused", {"code": code, "reason": reason, "scope": scope},
                      check_at=now + check_delay(code, 0))
            return True
        if checked:
            checks = number.sending_pause_checks + 1
            paused = WhatsAppNumber.objects.filter(pk=number.pk, sending_paused_at__isnull=False)
            later = {"sending_pause_checks": F("sending_pause_checks") + 1}
            if scope:  # a scoped refusal met a whole pause's check: the check failed, the wider cause stays
                paused.filter(sending_pause_scope="").update(
                    sending_resume_at=now + check_delay(number.sending_pause_code, checks), **later)
            paused.filter(sending_pause_scope=scope).update(
                sending_pause_code=code, sending_pause_reason=reason, sending_resume_at=now + check_delay(code, checks),
                **later)
    return False


def number_sending_resume(*, number_id: int, actor=None, how: str) -> bool:
    """Lift the pause of number `number_id` (`how`: "check passed", "by an admin") and
    queue its waiting messages. Returns False when it was not paused."""
    from apps.whatsapp.models import WhatsAppNumber

    from .kick import kick

    with transaction.atomic():
        number = WhatsAppNumber.objects.select_for_update().filter(pk=number_id).first()
        if number is None or number.sending_paused_at is None:
            return False
        code, reason, scope = number.sending_pause_code, number.sending_pause_reason, number.sending_pause_scope
        WhatsAppNumber.objects.filter(pk=number_id).update(
            sending_paused_at=None, sending_pause_code=None, sending_pause_reason="", sending_resume_at=None,
            sending_pause_checks=0, sending_pause_scope="",
        )
        if scope:  # the messages the scoped pause set aside (`messages_hold`) may be claimed again
            Message.objects.filter(number_id=number_id, direction=Direction.OUTBOUND, status=Status.PENDING,
                                   wamid__isnull=True, send_started_at__isnull=True, type=MessageType.TEMPLATE,
                                   next_attempt_at__isnull=False).update(next_attempt_at=None)
        _announce(number, "number.sending_resumed", {"code": code, "reason": reason, "how": how, "scope": scope},
                  actor=actor)
        transaction.on_commit(lambda: _kick_waiting(number_id, kick), robust=True)
    return True


def _kick_waiting(number_id: int, kick) -> None:
    # Forced: a send queued for later (a give-back's countdown, the pause's check)
    # holds the number's kick key until it runs, and would swallow this kick.
    kick(number_id, force=True)
    # Media messages are never in a batch: each gets its own task.
    for message_id in Message.objects.filter(
        number_id=number_id, direction=Direction.OUTBOUND, status=Status.PENDING, wamid__isnull=True,
        send_started_at__isnull=True, type__in=MEDIA_TYPES,
    ).values_list("pk", flat=True)[:1000]:
        kick(number_id, message_id=message_id, batchable=False)


def _announce(number, event: str, data: dict, *, check_at=None, actor=None) -> None:
    """The audit entry (the organisation's admins read the audit log) and the live event
    to the organisation (the composer of the number's conversations shows the banner)."""
    from apps.conversations.models import AuditLogEntry
    from apps.realtime import groups
    from apps.realtime.publish import publish

    AuditLogEntry.objects.create(
        organization_id=number.organization_id, actor=actor if getattr(actor, "pk", None) else None,
        action=event, data={"number_id": number.pk, **data},
    )
    payload = {"number_id": number.pk, "name": str(number), **data, "at": timezone.now()}
    if check_at is not None:
        payload["check_at"] = check_at
    publish(event, payload, groups=[groups.org_members(number.organization_id)])


def messages_hold(messages: list[Message], claimed_at) -> list[Message]:
    """Of messages just claimed (one number's), those that may be sent now: all of them
    when the number is not paused; when it is and its check is due, the first one (the
    check: the claim of it is taken by one run alone); otherwise none. The others' claims
    are given back: they stay pending, and are not counted an attempt. Under a scoped
    pause the messages outside its scope all go, and those it holds wait set aside until
    the next check (their next attempt), so that the number's claims reach the others."""
    from apps.whatsapp.models import WhatsAppNumber

    from .claim import messages_unclaim

    if not messages:
        return messages
    number = messages[0].number
    if number.sending_paused_at is None:
        return messages
    covered = in_scope(number, messages)
    held = [m for m in messages if m.pk in covered]
    free = [m for m in messages if m.pk not in covered]
    now = timezone.now()
    check = bool(held) and number.sending_resume_at is not None and number.sending_resume_at <= now and bool(
        WhatsAppNumber.objects.filter(pk=number.pk, sending_paused_at__isnull=False, sending_resume_at__lte=now)
        .update(sending_resume_at=now + timedelta(seconds=claim_hold_seconds())))
    go = held[:1] if check else []
    wait = [m.pk for m in held[len(go):]]
    if number.sending_pause_scope and wait:
        messages_unclaim(wait, claimed_at, next_attempt_at=number.sending_resume_at or now)
    else:
        messages_unclaim(wait, claimed_at)
    if not free:
        return go
    return [m for m in messages if m in go or m.pk not in covered]


def set_aside(claimed: list[Message]) -> bool:
    """Whether `messages_hold` set the held ones of these claimed messages aside (a
    scoped pause): the number's next claim reaches its other messages."""
    return bool(claimed) and claimed[0].number.sending_paused_at is not None and bool(
        claimed[0].number.sending_pause_scope)


def in_scope(number, messages: list[Message]) -> set[int]:
    """The ids of `messages` (the number's) its pause holds: all of them, or under a
    marketing pause its marketing templates (their category by the stored template)."""
    if number.sending_pause_scope != errors.MARKETING:
        return {m.pk for m in messages}
    from apps.message_templates.models import MessageTemplate

    templates = [m for m in messages if m.type == MessageType.TEMPLATE]
    if not templates:
        return set()
    marketing = set(MessageTemplate.objects.filter(
        organization_id=number.organization_id, category=MessageTemplate.Category.MARKETING,
        name__in={_template_key(m)[0] for m in templates},
    ).values_list("name", "language"))
    return {m.pk for m in templates if _template_key(m) in marketing}


def _template_key(message: Message) -> tuple[str, str]:
    content = message.content or {}
    language = content.get("language")
    code = language.get("code", "") if isinstance(language, dict) else str(language or "")
    return str(content.get("name") or ""), code


def claim_hold_seconds() -> float:
    """How long a check holds the number's next check back: its claim's whole life, so
    that no second check starts while it is in flight; its outcome sets the next."""
    from .claim import claim_expiry

    return claim_expiry()


def message_release(message: Message) -> None:
    """The message met a pause error: its claim is given back without counting the
    attempt, so it waits (pending) for the number's pause to lift."""
    Message.objects.filter(pk=message.pk, wamid__isnull=True, status=Status.PENDING).update(
        send_started_at=None, next_attempt_at=None, send_attempts=F("send_attempts") - 1,
    )


def answered_lift(messages: list[Message]) -> None:
    """Meta answered a message of a paused number without a pause error (accepted it,
    or refused it for itself): the check passed, the pause is lifted."""
    seen = set()
    for message in messages:
        number = message.number
        if number.sending_paused_at is not None and number.pk not in seen and in_scope(number, [message]):
            seen.add(number.pk)
            number_sending_resume(number_id=number.pk, how="check passed")


def paused_numbers_check() -> int:
    """The periodic look at paused numbers: each whose check is due gets its oldest
    waiting message queued (its task takes the check, `messages_hold`). Returns how
    many were queued."""
    from apps.whatsapp.models import WhatsAppNumber

    from .kick import message_queue

    queued = 0
    due = WhatsAppNumber.objects.filter(sending_paused_at__isnull=False, sending_resume_at__lte=timezone.now())
    for number in due:
        waiting = Message.objects.filter(number_id=number.pk, direction=Direction.OUTBOUND, status=Status.PENDING,
                                         wamid__isnull=True, send_started_at__isnull=True).order_by("created_at")
        if number.sending_pause_scope:  # the check is a message the pause holds
            candidates = list(waiting.filter(type=MessageType.TEMPLATE).only("pk", "type", "content")[:200])
            covered = in_scope(number, candidates)
            oldest = next((m.pk for m in candidates if m.pk in covered), None)
        else:
            oldest = waiting.values_list("pk", flat=True).first()
        if oldest is not None:
            message_queue(oldest)
            queued += 1
    return queued


def statuses_pause(*, number, updates: list) -> bool:
    """Failed statuses of `number` whose error pauses a number pause it (the failed
    message had reached Meta and stays failed; the next ones wait). Returns True when
    one started the pause."""
    for update in updates:
        if getattr(update, "status", "") != Status.FAILED:
            continue
        for error in update.errors or []:
            try:
                code = int(error.get("code")) if isinstance(error, dict) else None
            except (TypeError, ValueError):
                code = None
            if code is not None and errors.classify(code) is errors.Kind.PAUSE:
                details = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
                reason = pause_reason(code, str(error.get("title") or ""), str(error.get("message") or ""),
                                      str(details.get("details") or ""))
                return number_sending_pause(number=number, code=code, reason=reason)
    return False
