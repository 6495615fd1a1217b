"""The outcome of a call to Meta, stored: the wamids of accepted messages (one
statement for any number of them), or each error settled on its own message.

An error is settled as Meta's answer tells:
- a call that timed out waiting for Meta's answer (a read timeout) may have been
  accepted: the message is marked failed, "interrupted", not retried; Meta's
  statuses settle it if Meta had it (they echo our id), else the agent decides (the
  retry action resends it on purpose);
- a transient error answered by Meta means Meta did not accept the message: the
  claim is released and the message's own task retried with backoff (a timeout
  while connecting too: Meta never had the request);
- an error about the number or its account (errors.Kind.PAUSE) pauses the number's
  sending and leaves the message waiting (pause.py);
- anything else fails the message with Meta's reason.
An answer to the check of a paused number that is not such an error lifts the pause.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.media.services import MediaUnavailable
from apps.realtime import groups
from apps.realtime.publish import gathered, publish

from ..models import Message, PendingStatus, Status
from ..serializers import MessageSerializer, message_event_data
from ..services.statuses import (
    failure_cleared_sql,
    rows_locked_in_order,
    status_apply_pending,
    statuses_pending_apply,
    unanswered_moving_to,
)
from . import pause
from .kick import message_queue

logger = logging.getLogger(__name__)

INTERRUPTED_TITLE = "Send interrupted"
INTERRUPTED_TEXT = (
    "The send was interrupted after the request reached WhatsApp; it may or may not have been delivered. "
    "Check with the customer before retrying."
)


def answer_wamid(answer: dict) -> str | None:
    """The wamid of an accepted send's answer (None when Meta gave none)."""
    return ((answer.get("messages") or [{}])[0]).get("id")


def answer_wa_id(answer: dict) -> str:
    """The customer's WhatsApp id in an accepted send's answer (`contacts[0].wa_id`,
    "" when Meta gave none): it can differ from the number sent to."""
    contacts = answer.get("contacts")
    first = contacts[0] if isinstance(contacts, list) and contacts and isinstance(contacts[0], dict) else {}
    return str(first.get("wa_id") or "")


def answers_store(sent: list[tuple]) -> dict[int, str]:
    """Store what Meta accepted: for each (message, wamid, its Media row or None, the
    customer's WhatsApp id Meta answered), the wamid and the state "sent" under the
    forward-only rule (a message marked
    failed meanwhile, its answer given up on, is settled: services/statuses.py,
    UNANSWERED_STATES), in one UPDATE that also answers whether statuses for each
    wamid arrived before it (applied then); then the live events, on commit, and a
    look for statuses stored by a drain that could not see these wamids
    (statuses_pending_apply). The messages must be claimed (their claim made this
    run the only writer: each row is what the instance holds plus these). Then a
    WhatsApp id that is not the contact's is stored on it (`wa_ids_confirm`).
    Returns {message id: "sent"} for the rows stored."""
    outcome: dict[int, str] = {}
    if not sent:
        return outcome
    number_wamids = [(message.number_id, wamid) for message, wamid, _media, _wa_id in sent]
    # The batch's events leave in one delivery after the commit.
    with gathered(), transaction.atomic():
        transaction.on_commit(lambda: statuses_pending_apply(keys=number_wamids), robust=True)
        stored = _sent_update([(message, wamid) for message, wamid, _media, _wa_id in sent], timezone.now())
        for message, wamid, media, _wa_id in sent:
            if message.pk not in stored:
                continue
            message.wamid = wamid
            message.status, message.sent_at, statuses_waiting = stored[message.pk]
            # Claimed while pending without a wamid: no reaction can point at it yet
            # (reactions are linked by wamid).
            reactions: list | None = []
            if statuses_waiting:
                status_apply_pending(message=message)  # reloads the row when statuses were waiting
                reactions = None  # reloaded: read them
            publish(
                "message.updated", message_event_data(message, reactions=reactions, media=media),
                groups=groups.conversation_groups(message.conversation),
            )
            outcome[message.pk] = "sent"
    wa_ids_confirm([(message, wa_id) for message, _wamid, _media, wa_id in sent if message.pk in outcome])
    pause.answered_lift([message for message, *_rest in sent if message.pk in outcome])
    return outcome


def wa_ids_confirm(answered: list[tuple[Message, str]]) -> None:
    """Meta's answers name each customer's WhatsApp id: where one is not the contact's
    (a Brazilian account without the ninth digit, a Mexican one with 521), it becomes
    the contact's, so that the customer's reply finds the same contact and conversation;
    a contact of the organisation that holds it already is merged with this one
    (conversations.services.contact_wa_id_confirm). The answers are stored already:
    a failure here is logged, never raised."""
    from apps.conversations.services import contact_wa_id_confirm

    for message, wa_id in answered:
        contact = message.conversation.contact
        if not wa_id or wa_id == contact.wa_id:
            continue
        try:
            contact_wa_id_confirm(contact_id=contact.pk, wa_id=wa_id, source=f"send answer of message {message.pk}")
        except Exception:
            logger.exception("message %s: could not store the WhatsApp id %s Meta answered", message.pk, wa_id)


def _sent_update(sent: list[tuple[Message, str]], sent_at) -> dict[int, tuple]:
    """One UPDATE (PostgreSQL) storing each message's wamid and, where the rule lets
    it move there, the state "sent" with its time (else the time only, if it had
    none, as `statuses_apply` does), a failure before the answer cleared:
    {message id: (status, sent_at, whether statuses wait for its wamid)} for the
    rows it changed (those without a wamid yet)."""
    from django.db import connection

    q = connection.ops.quote_name
    table = q(Message._meta.db_table)
    before = unanswered_moving_to(Status.SENT)
    values = ", ".join(["(%s::bigint, %s)"] * len(sent))
    # In the statement's order: the rows, then the state's rule, then the time's.
    params: list = []
    for message, wamid in sent:
        params += [message.pk, wamid]
    params += [*before, Status.SENT, *before, sent_at, sent_at]
    moves = f"m.{q('status')} IN ({', '.join(['%s'] * len(before))})"
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v(id, wamid) AS (VALUES {values}), {rows_locked_in_order(q, table, 'v')} "
            f"UPDATE {table} AS m SET {q('wamid')} = v.wamid, "
            f"{q('status')} = CASE WHEN {moves} THEN %s ELSE m.{q('status')} END, "
            f"{q('sent_at')} = CASE WHEN {moves} THEN %s ELSE COALESCE(m.{q('sent_at')}, %s) END, "
            f"{failure_cleared_sql(q, 'm')} "
            f"FROM v, locked WHERE m.{q('id')} = v.id AND m.{q('id')} = locked.id AND m.{q('wamid')} IS NULL "
            f"RETURNING m.{q('id')}, m.{q('status')}, m.{q('sent_at')}, EXISTS (SELECT 1 FROM "
            f"{q(PendingStatus._meta.db_table)} p WHERE p.{q('number_id')} = m.{q('number_id')} "
            f"AND p.{q('wamid')} = v.wamid)",
            params,
        )
        return {row[0]: row[1:] for row in cursor.fetchall()}


def failure_settle(message: Message, error) -> str:
    """Settle a claimed message whose call failed: `error` is the exception, or None
    when Meta accepted it without a message id. Returns the outcome ("interrupted",
    "retry" or "failed")."""
    from apps.providers.meta.client import GraphAPIError

    if error is None:
        message_fail(message.pk, title="No message id",
                     text="WhatsApp accepted the request but returned no message id.")
        return "failed"
    if isinstance(error, GraphAPIError):
        return _error_settle(message, error)
    if isinstance(error, MediaUnavailable):  # the file expired or was deleted before it went out
        message_fail(message.pk, title="Media unavailable", text=str(error))
        return "failed"
    message_fail(message.pk, title="Send error", text=str(error)[:1000])
    logger.error("message %s: send error", message.pk, exc_info=error)
    return "failed"


def _error_settle(message: Message, error) -> str:
    """After a call Meta's client answered with an error (see the module doc)."""
    if error.read_timeout:
        # Meta had the request and did not answer in time: it may have accepted it.
        message_fail(message.pk, title=INTERRUPTED_TITLE, text=INTERRUPTED_TEXT, details=str(error))
        return "interrupted"
    if error.pauses_number:
        pause.message_release(message)
        pause.number_sending_pause(number=message.number, code=error.code,
                                   reason=pause.pause_reason(error.code, error.title, error.message, error.details),
                                   checked=message.number.sending_paused_at is not None)
        return "paused"
    attempt = message.send_attempts  # counted by the claim
    if error.retryable and attempt < settings.SEND_MAX_ATTEMPTS:
        delay = backoff(attempt, error.retry_after)
        Message.objects.filter(pk=message.pk, wamid__isnull=True).update(
            send_started_at=None, call_started_at=None, next_attempt_at=timezone.now() + timedelta(seconds=delay)
        )
        logger.info("message %s: transient error %s, retry %d in %.1fs", message.pk, error.code, attempt, delay)
        message_queue(message.pk, countdown=delay)
        return "retry"
    message_fail(message.pk, code=error.code, title=error.title or "", text=error.message, details=error.details)
    if not error.retryable and not error.token_error:  # Meta refused the message, not the number
        pause.answered_lift([message])
    return "failed"


def backoff(attempt: int, retry_after: float | None) -> float:
    base = settings.SEND_RETRY_BASE_DELAY
    delay = base * (2 ** max(attempt - 1, 0))
    delay = min(delay, 300.0) * random.uniform(0.8, 1.2)
    return max(delay, retry_after or 0.0)


def message_fail(message_id: int, *, code=None, title: str = "", text: str = "", details: str = "",
                 **conditions) -> bool:
    """Mark a pending message that has no wamid (and meets `conditions`, lookups of
    its row) failed (pending -> failed moves forward), with the reason the agent
    sees, and publish it. Returns whether it was marked."""
    with transaction.atomic():
        updated = Message.objects.filter(pk=message_id, status=Status.PENDING, wamid__isnull=True, **conditions).update(
            status=Status.FAILED, failed_at=timezone.now(), error_code=code, error_title=title[:255],
            error_message=text, error_details=details, send_started_at=None, next_attempt_at=None,
        )
        if updated:
            message = Message.objects.select_related("conversation").get(pk=message_id)
            publish("message.updated", MessageSerializer(message).data,
                    groups=groups.conversation_groups(message.conversation))
    return bool(updated)
