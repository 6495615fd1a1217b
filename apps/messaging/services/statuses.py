"""Delivery statuses of outbound messages (Meta's status webhooks).

A status only moves forward (`status_moves_forward`), by one function for one status or many
(`statuses_apply`): the target rows are locked before the move, so two workers
applying "read" and a late "delivered" at once cannot step back. A message the
customer has (delivered, read, played) is never shown failed: a late "failed" for it
is ignored, and "delivered" or "read" after "failed" moves the message on. The
time of every state is kept even when the state itself does not change (a
"delivered" after "read" still fills delivered_at). A status for a wamid we do not
know yet waits as a PendingStatus until the sending code stores that wamid.
"""

from __future__ import annotations

import json
import logging

from django.db import transaction

from ..models import STATUS_RANK, Direction, Message, PendingStatus, Status

logger = logging.getLogger(__name__)

TIME_FIELDS = {
    Status.SENT: "sent_at",
    Status.DELIVERED: "delivered_at",
    Status.READ: "read_at",
    Status.PLAYED: "played_at",
    Status.FAILED: "failed_at",
}


def _error_fields(errors: list | None) -> dict:
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    details = first.get("error_data", {}).get("details") if isinstance(first.get("error_data"), dict) else None
    try:
        code = int(first.get("code")) if first.get("code") is not None else None
    except (TypeError, ValueError):
        code = None
    return {
        "error_code": code,
        "error_title": str(first.get("title") or "")[:255],
        "error_message": str(first.get("message") or ""),
        "error_details": str(details or (json.dumps(errors) if errors and not first else "")),
    }


RECEIVED = frozenset({Status.DELIVERED, Status.READ, Status.PLAYED})


def status_moves_forward(current: str, new: str) -> bool:
    """The forward-only rule: whether a message in state `current` takes state `new`.
    Up the ranks (pending, sent, delivered, read, played; STATUS_RANK), except that
    "failed" only follows a state the customer does not have yet (pending, sent) and
    only what proves the customer has the message (delivered, read, played) follows
    "failed". Nothing follows "deleted"; a state outside the table never moves."""
    if new == Status.FAILED:
        return current in (Status.PENDING, Status.SENT)
    if current == Status.FAILED:
        return new in RECEIVED
    return STATUS_RANK.get(current, len(STATUS_RANK)) < STATUS_RANK[new]


def statuses_moving_to(new: str) -> list[str]:
    """The states `status_moves_forward` lets take state `new`: for a statement that
    applies the rule in the database (the send's stored answer)."""
    return [state for state in STATUS_RANK if status_moves_forward(state, new)]


def status_apply(*, number, update) -> str:
    """Apply one status (apps.providers.events.StatusUpdate) to the outbound message
    (number, wamid): `statuses_apply` with one. Returns "applied", "duplicate",
    "pending" or "ignored"."""
    with transaction.atomic():
        return statuses_apply(number=number, updates=[update])[0]


_WRITTEN = ("status", *TIME_FIELDS.values(), "pricing", "meta_conversation", "error_code", "error_title",
            "error_message", "error_details")


def statuses_apply(*, number, updates: list) -> list[str]:
    """The one rule for delivery statuses, for any number of statuses of one number:
    the outcome of each ("applied", "duplicate", "pending" or "ignored", in order).
    The target messages are read and locked with one query (FOR UPDATE, in id
    order), every change written with one UPDATE, one PendingStatus INSERT for the
    unknown wamids (a repeat of one is ignored), one read for the events. A second
    status for the same wamid is applied after the others, in a round of its own.
    Call inside a transaction."""
    outcomes: list[str | None] = [None] * len(updates)
    first: dict[str, int] = {}
    repeats: list[int] = []
    for position, update in enumerate(updates):
        if update.status not in TIME_FIELDS:
            logger.info("ignoring unknown status %r for %s", update.status, update.wamid)
            outcomes[position] = "ignored"
        elif update.wamid in first:
            repeats.append(position)
        else:
            first[update.wamid] = position
    rows = {
        message.wamid: message
        for message in Message.objects.select_for_update().filter(
            number=number, wamid__in=list(first), direction=Direction.OUTBOUND
        ).only("id", "wamid", *_WRITTEN).order_by("pk")
    }
    changed_rows, written, changed_ids = [], set(), []
    pending = []
    for wamid, position in first.items():
        update, message = updates[position], rows.get(wamid)
        if message is None:
            pending.append(update)
            outcomes[position] = "pending"
            continue
        time_field = TIME_FIELDS[update.status]
        changes = {}
        if update.status == Status.FAILED and message.status in RECEIVED:
            # Meta's failure for a message the customer already has: noted, not kept.
            logger.info("ignoring failed for %s, already %s", wamid, message.status)
            outcomes[position] = "ignored"
            continue
        if status_moves_forward(message.status, update.status):
            changes = {"status": update.status, time_field: update.timestamp}
            if update.pricing:
                changes["pricing"] = update.pricing
            if update.conversation:
                changes["meta_conversation"] = update.conversation
            if update.status == Status.FAILED:
                changes.update(_error_fields(update.errors))
            changed = True
        else:
            # Behind the current state: keep the time of this state, and Meta's billing
            # information if we had none, without moving the state back.
            changed = getattr(message, time_field) is None
            if changed:
                changes[time_field] = update.timestamp
            if update.pricing and message.pricing is None:
                changes["pricing"] = update.pricing
            if update.conversation and message.meta_conversation is None:
                changes["meta_conversation"] = update.conversation
        for name, value in changes.items():
            setattr(message, name, value)
        if changes:
            changed_rows.append(message)
            written.update(changes)
        if changed:
            changed_ids.append(message.pk)
        outcomes[position] = "applied" if changed else "duplicate"
    if changed_rows:
        # The rows are locked: writing back the loaded value of a field a row does not
        # change cannot undo a concurrent change.
        Message.objects.bulk_update(changed_rows, [name for name in _WRITTEN if name in written])
    if pending:
        PendingStatus.objects.bulk_create([
            PendingStatus(organization_id=number.organization_id, number=number, wamid=update.wamid,
                          status=update.status,
                          payload={**update.raw, "_phone_number_id": update.phone_number_id,
                                   "_waba_id": update.waba_id})
            for update in pending
        ], ignore_conflicts=True)  # the same status for the same unknown message, again
    if changed_ids:
        from apps.realtime import groups
        from apps.realtime.publish import publish

        from ..serializers import MessageSerializer

        shown = {m.pk: m for m in Message.objects.filter(pk__in=changed_ids).select_related(
            "conversation", "author", "media").prefetch_related("reactions")}
        ordered = [shown[pk] for pk in changed_ids]
        for message, data in zip(ordered, MessageSerializer(ordered, many=True).data):
            publish("message.updated", data, groups=groups.conversation_groups(message.conversation))
    if repeats:
        for position, outcome in zip(repeats, statuses_apply(number=number, updates=[updates[p] for p in repeats])):
            outcomes[position] = outcome
    return outcomes


def status_apply_pending(*, message) -> None:
    """Apply statuses that arrived before `message` had its wamid (call after the
    wamid is stored, in the same transaction)."""
    if not message.wamid:
        return
    from apps.providers.events import StatusUpdate
    from apps.providers.meta.parser import parse_status

    waiting = list(PendingStatus.objects.filter(number_id=message.number_id, wamid=message.wamid))
    if not waiting:
        return
    waiting.sort(key=lambda p: STATUS_RANK.get(p.status, 0))
    updates = []
    for pending in waiting:
        payload = {k: v for k, v in pending.payload.items() if not k.startswith("_")}
        update = parse_status(
            payload,
            path="pending",
            waba_id=pending.payload.get("_waba_id", ""),
            phone_number_id=pending.payload.get("_phone_number_id", ""),
            display_phone_number="",
        )
        if isinstance(update, StatusUpdate):
            updates.append(update)
    statuses_apply(number=message.number, updates=updates)
    PendingStatus.objects.filter(pk__in=[p.pk for p in waiting]).delete()
    message.refresh_from_db()



