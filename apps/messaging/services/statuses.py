"""Delivery statuses of outbound messages (Meta's status webhooks).

A status only moves forward (`status_moves_forward`), by one function for one status or many
(`statuses_apply`): the target rows are locked before the move, so two workers
applying "read" and a late "delivered" at once cannot step back. A message the
customer has (delivered, read, played) is never shown failed: a late "failed" for it
is ignored, and "delivered" or "read" after "failed" moves the message on. The
time of every state is kept even when the state itself does not change (a
"delivered" after "read" still fills delivered_at).

A status for a wamid we do not know yet is matched by what our send gave Meta to
echo (`biz_opaque_callback_data`, callback_data.py): a message whose answer was lost
(interrupted) takes the wamid and the status. Else it waits as a PendingStatus,
applied as soon as its message's wamid is committed, whichever side commits last
(`statuses_pending_apply`, see there why this holds), and by the periodic
reconciliation (`statuses_pending_reconcile`), which also expires those that waited
longer than PENDING_STATUS_MAX_AGE_HOURS.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from functools import reduce
from operator import or_

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..callback_data import callback_message_id
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


# A message with no wamid that is "failed" failed on our side before Meta's answer
# (interrupted, a send error, no message id): nobody knew whether Meta had it. Meta's
# answer, or a status naming it (its wamid, our id echoed), settles it: it takes the
# wamid and leaves "failed" as if it had been pending (`failure_cleared_sql`).
UNANSWERED_STATES = (Status.PENDING, Status.FAILED)
_CLEARED = (("failed_at", "NULL"), ("error_code", "NULL"), ("error_title", "''"), ("error_message", "''"),
            ("error_details", "''"))


def unanswered_moving_to(new: str) -> list[str]:
    """The states of a message with no wamid that take state `new` when Meta's
    answer names it: the forward rule, "failed" counting as "pending"."""
    return list(UNANSWERED_STATES) if status_moves_forward(Status.PENDING, new) else []


def failure_cleared_sql(q, alias: str) -> str:
    """The SET assignments of an UPDATE of messages with no wamid that clear the
    failure of a row in "failed" (its time and error) and keep the others' values."""
    failed = f"{alias}.{q('status')} = '{Status.FAILED.value}'"
    return ", ".join(f"{q(column)} = CASE WHEN {failed} THEN {empty} ELSE {alias}.{q(column)} END"
                     for column, empty in _CLEARED)


def rows_locked_in_order(q, table: str, values: str, where: str = "") -> str:
    """A CTE `locked` that locks, in id order, the messages named by the CTE `values`
    (its `id` column) that have no wamid and meet `where` (SQL on alias x). The
    statements that write wamids into many messages (the sender's answers, statuses
    naming messages whose answers were lost) update only rows of `locked`: each takes
    its locks in the same order, so two of them meeting in opposite orders wait for
    each other instead of deadlocking."""
    condition = f" AND {where}" if where else ""
    return (f"locked AS (SELECT x.{q('id')} AS id FROM {table} x JOIN {values} ON x.{q('id')} = {values}.id "
            f"WHERE x.{q('wamid')} IS NULL{condition} ORDER BY x.{q('id')} FOR UPDATE OF x)")


def status_apply(*, number, update) -> str:
    """Apply one status (apps.providers.events.StatusUpdate) to the outbound message
    (number, wamid): `statuses_apply` with one. Returns "applied", "duplicate",
    "pending" or "ignored"."""
    with transaction.atomic():
        return statuses_apply(number=number, updates=[update])[0]


_WRITTEN = ("status", *TIME_FIELDS.values(), "pricing", "meta_conversation", "error_code", "error_title",
            "error_message", "error_details", "pricing_model", "pricing_type", "pricing_category", "billable")


def pricing_columns(pricing: dict) -> dict:
    """Meta's pricing object of a status as the message's columns: `pricing_model`
    (PMP per message since July 2025, CBP before), `type` (regular,
    free_customer_service, free_entry_point; absent before July 2025),
    `category` (marketing, marketing_lite, utility, authentication,
    authentication_international, service...) and `billable` (deprecated: None when
    absent; a priced type says it)."""
    def text(key: str, length: int) -> str:
        value = pricing.get(key)
        return str(value).strip().lower()[:length] if isinstance(value, str | int) else ""

    kind = text("type", 40)
    billable = pricing.get("billable")
    if not isinstance(billable, bool):
        billable = (kind == "regular") if kind else None
    return {"pricing": pricing, "pricing_model": text("pricing_model", 16).upper(), "pricing_type": kind,
            "pricing_category": text("category", 40), "billable": billable}


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
    unknown = [updates[position] for wamid, position in first.items() if wamid not in rows]
    if unknown and (attached := _wamids_attach(number, unknown)):
        # Our messages whose answer was lost, named by the status: theirs now (locked
        # by the attaching UPDATE).
        rows.update((message.wamid, message) for message in Message.objects.filter(
            number=number, wamid__in=attached, direction=Direction.OUTBOUND).only("id", "wamid", *_WRITTEN))
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
                changes.update(pricing_columns(update.pricing))
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
                changes.update(pricing_columns(update.pricing))
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
        # Its message's wamid may be committed by a send that could not see these rows:
        # look again once they are committed (statuses_pending_apply says why).
        keys = [(number.pk, update.wamid) for update in pending]
        transaction.on_commit(lambda: statuses_pending_apply(keys=keys), robust=True)
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


def _wamids_attach(number, updates: list) -> list[str]:
    """For statuses of wamids we do not know that name one of our messages of this
    number (`biz_opaque_callback_data`) which has no wamid, pending or failed before
    Meta answered (see UNANSWERED_STATES): store the wamid, the failure cleared, in
    one UPDATE. Returns the wamids stored."""
    named: dict[int, str] = {}
    for update in updates:
        message_id = callback_message_id(update.biz_opaque_callback_data)
        if message_id is not None:
            named.setdefault(message_id, update.wamid)
    if not named:
        return []
    connection = connections[Message.objects.db]
    q = connection.ops.quote_name
    table = q(Message._meta.db_table)
    values = ", ".join(["(%s::bigint, %s)"] * len(named))
    states = ", ".join(["%s"] * len(UNANSWERED_STATES))
    mine = f"{q('number_id')} = %s AND {{alias}}.{q('direction')} = %s AND {{alias}}.{q('status')} IN ({states})"
    mine_params = [number.pk, Direction.OUTBOUND, *UNANSWERED_STATES]
    params: list = []
    for message_id, wamid in named.items():
        params += [message_id, wamid]
    params += [*mine_params, Status.FAILED, Status.PENDING, *mine_params]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v(id, wamid) AS (VALUES {values}), "
            f"{rows_locked_in_order(q, table, 'v', 'x.' + mine.format(alias='x'))} "
            f"UPDATE {table} AS m SET {q('wamid')} = v.wamid, "
            f"{q('status')} = CASE WHEN m.{q('status')} = %s THEN %s ELSE m.{q('status')} END, "
            f"{failure_cleared_sql(q, 'm')} FROM v, locked "
            f"WHERE m.{q('id')} = v.id AND m.{q('id')} = locked.id AND m.{mine.format(alias='m')} "
            f"AND m.{q('wamid')} IS NULL AND NOT EXISTS (SELECT 1 FROM {table} y "
            f"WHERE y.{q('number_id')} = m.{q('number_id')} AND y.{q('wamid')} = v.wamid) RETURNING v.wamid",
            params,
        )
        attached = [row[0] for row in cursor.fetchall()]
    if attached:
        logger.info("statuses of number %s settled %d messages sent without a stored answer", number.pk,
                    len(attached))
    return attached


def status_apply_pending(*, message) -> None:
    """Apply statuses that arrived before `message` had its wamid (call after the
    wamid is stored, in the same transaction); the instance is reloaded when any
    were applied."""
    if message.wamid and statuses_pending_apply(keys=[(message.number_id, message.wamid)]):
        message.refresh_from_db()


# Waiting statuses applied per transaction (the reconciliation takes several).
PENDING_APPLY_BATCH = 500


def statuses_pending_apply(*, keys: list[tuple[int, str]] | None = None, limit: int = PENDING_APPLY_BATCH) -> int:
    """Apply the waiting statuses (PendingStatus) whose outbound message has its wamid
    now: those of `keys` ((number id, wamid) pairs), or any (the reconciliation),
    at most `limit`, oldest first, through `statuses_apply`. Each is claimed with a
    row lock (SKIP LOCKED: one taken by another run is that run's) and deleted once
    applied, so a status is applied once. Returns how many it took (applied, or
    found to change nothing: a late state, a repeat).

    Why no status waits for ever: the drain stores a PendingStatus and, after its
    commit, calls this for its keys (statuses_apply's on_commit); the send stores the
    wamid, looks for waiting statuses in the same statement and, after its commit,
    calls this for its wamids (sending/outcome.py). Under READ COMMITTED each
    statement sees what was committed before it started. If the drain's look does
    not see the wamid, the send had not committed when it ran, so the send's commit
    came after the drain's, and the send's look, after its own commit, sees the
    PendingStatus; and the other way round. Whichever commits last applies it (both
    may: the lock and the delete make it once)."""
    waiting = PendingStatus.objects.filter(Exists(Message.objects.filter(
        number_id=OuterRef("number_id"), wamid=OuterRef("wamid"), direction=Direction.OUTBOUND)))
    if keys is not None:
        if not keys:
            return 0
        wamids: dict[int, set[str]] = {}
        for number_id, wamid in keys:
            wamids.setdefault(number_id, set()).add(wamid)
        waiting = waiting.filter(reduce(or_, (Q(number_id=number_id, wamid__in=sorted(found))
                                               for number_id, found in wamids.items())))
    if not waiting.exists():  # the common case: one query
        return 0
    with transaction.atomic():
        return _pending_rows_apply(list(
            waiting.select_for_update(skip_locked=True, of=("self",)).select_related("number").order_by("pk")[:limit]
        ))


def _pending_rows_apply(rows: list[PendingStatus]) -> int:
    """Apply locked PendingStatus rows through statuses_apply (per number, earliest
    state first) and delete those taken; one still unknown stays as it was. Returns
    how many were taken."""
    from apps.providers.events import StatusUpdate
    from apps.providers.meta.parser import parse_status

    by_number: dict[int, list[tuple[PendingStatus, StatusUpdate]]] = {}
    done = []
    for row in rows:
        payload = {k: v for k, v in row.payload.items() if not k.startswith("_")}
        update = parse_status(payload, path="pending", waba_id=row.payload.get("_waba_id", ""),
                              phone_number_id=row.payload.get("_phone_number_id", ""), display_phone_number="")
        if isinstance(update, StatusUpdate):
            by_number.setdefault(row.number_id, []).append((row, update))
        else:
            logger.warning("dropping waiting status %s of %s: %s", row.pk, row.wamid, getattr(update, "reason", ""))
            done.append(row.pk)
    for pairs in by_number.values():
        pairs.sort(key=lambda pair: (STATUS_RANK.get(pair[1].status, 0), pair[0].pk))
        outcomes = statuses_apply(number=pairs[0][0].number, updates=[update for _row, update in pairs])
        done.extend(row.pk for (row, _update), outcome in zip(pairs, outcomes) if outcome != "pending")
    PendingStatus.objects.filter(pk__in=done).delete()
    return len(done)


def statuses_pending_reconcile() -> tuple[int, int]:
    """The periodic safety net (task messaging.reconcile_pending_statuses): apply
    every waiting status whose message has its wamid now, or whose echoed id names
    one of our messages sent without a stored answer; then delete those that waited
    longer than PENDING_STATUS_MAX_AGE_HOURS (statuses of messages this product
    never sent, e.g. sent by another system on the number), with a log line.
    Returns (taken, expired): the waiting statuses it applied (or found to change
    nothing) and those it deleted as expired."""
    taken = 0
    for _round in range(100):  # a bound on one run; the next run takes the rest
        found = statuses_pending_apply()
        taken += found
        if found < PENDING_APPLY_BATCH:
            break
    taken += _pending_by_callback_apply()
    cutoff = timezone.now() - timedelta(hours=settings.PENDING_STATUS_MAX_AGE_HOURS)
    expired, _ = PendingStatus.objects.filter(received_at__lt=cutoff).delete()
    if expired:
        logger.warning("deleted %d statuses that waited over %g hours for their message (received before %s)",
                       expired, settings.PENDING_STATUS_MAX_AGE_HOURS, cutoff.isoformat())
    return taken, expired


def _pending_by_callback_apply() -> int:
    """The waiting statuses whose echoed id names a message of their number that has
    no wamid yet (see `_wamids_attach`), applied: how many were taken."""
    named: dict[int, tuple[int, int]] = {}
    rows = PendingStatus.objects.filter(payload__has_key="biz_opaque_callback_data").values_list(
        "pk", "number_id", "payload__biz_opaque_callback_data")
    for pk, number_id, data in rows[:PENDING_APPLY_BATCH * 20]:
        message_id = callback_message_id(data if isinstance(data, str) else "")
        if message_id is not None:
            named[pk] = (message_id, number_id)
    if not named:
        return 0
    attachable = set(Message.objects.filter(
        pk__in={message_id for message_id, _ in named.values()}, direction=Direction.OUTBOUND, wamid__isnull=True,
        status__in=UNANSWERED_STATES,
    ).values_list("pk", "number_id"))
    ids = [pk for pk, key in named.items() if key in attachable]
    if not ids:
        return 0
    with transaction.atomic():
        return _pending_rows_apply(list(PendingStatus.objects.select_for_update(skip_locked=True, of=("self",))
                                        .filter(pk__in=ids).select_related("number").order_by("pk")))
