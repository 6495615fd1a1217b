"""The claim: a message's attempt, recorded before its call to Meta.

One statement claims and loads (`messages_claim`): a conditional UPDATE sets
send_started_at and counts the attempt, only where no attempt is in flight and no
wamid is stored, and returns each claimed message with everything its send needs
(its number, the conversation's routing columns, the customer's wa_id, the author's
name) as model instances built by apps.core.rows.RowLoader. It chooses its rows in
one of two ways: given messages (a message's own task: any type, its retry time
come), or a batch of a number's waiting messages (the batch task's). A single
message is a batch of one: the same statement, the same instances.

Anything not claimed (already sent, claimed, missing) is for the caller to tell apart.

A claim is taken before the send's slot; the call itself is recorded just before
its request goes out (`calls_start`, one UPDATE for the calls of the next moment).
A claim whose call never started never reached Meta: when its holder is gone it is
given back (`claims_release`) and the message is sent as any other. The two are
conditional UPDATEs of the same row, so whichever commits first wins: a call is
recorded only while its claim is held, a claim is given back only while no call
is recorded. Hence never two sends of one message, however late either runs.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connections
from django.db.models import F

from apps.core.rows import RowLoader

from ..models import MEDIA_TYPES, Direction, Message, Status
from . import holders
from .pacing import MAX_INLINE_WAIT


def claim_expiry() -> float:
    """Seconds after which a claim cannot belong to a running send any more: the
    slot wait, a media upload (two calls), the send call, and a margin."""
    return MAX_INLINE_WAIT + 3 * settings.GRAPH_API_TIMEOUT + 10


# Seconds after which a claim whose call has not started is given back: a batch
# records its calls within its rounds' slots (at most a few seconds after its
# claim). A media message's claim waits claim_expiry(): its upload comes first.
UNSTARTED_EXPIRY = 10.0


def unstarted_expiry(kind: str) -> float:
    """Seconds after which a claim of a message of type `kind` whose call has not
    started is given back (`claims_release`)."""
    return claim_expiry() if kind in MEDIA_TYPES else UNSTARTED_EXPIRY


def messages_claim(*, claimed_at, ids: list[int] | None = None, number_id: int | None = None, limit: int = 0,
                   exclude: int = 0) -> list[Message]:
    """Claim and load, in one statement, oldest first:

    - `ids`: those of these messages that are pending, outbound and unclaimed;
    - `number_id`: up to `limit` messages of that number that wait for a send
      (pending, unclaimed, no retry pending, not media; never `exclude`), skipping
      rows another claim holds locked.

    Each claim is the message's attempt (send_attempts + 1 in the returned instance)."""
    from django.db import connection

    # This thread's own connection, not django.db.connection: each attribute read
    # through that proxy looks the thread's connection up again (asgiref's Local).
    connection = connections[connection.alias]
    by_number = ids is None
    if by_number:
        if limit <= 0:
            return []
        params = [number_id, Direction.OUTBOUND, Status.PENDING, exclude, limit, claimed_at]
    else:
        if not ids:
            return []
        params = [claimed_at, list(ids), Direction.OUTBOUND, Status.PENDING]
    sql, parts = _statement(connection, by_number)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if rows:
        # Who holds them: if this process dies, they are settled at once (holders.py).
        holders.claims_held(claimed_at, claim_expiry() + UNSTARTED_EXPIRY)
    shared: dict = {}  # the rows of a batch share their number: built once
    return [_message(parts, row, shared) for row in rows]


def messages_unclaim(ids: list[int], claimed_at, *, next_attempt_at=None) -> None:
    """Give back claims that made no call (no attempt is counted)."""
    if ids:
        Message.objects.filter(pk__in=ids, wamid__isnull=True, send_started_at=claimed_at).update(
            send_started_at=None, call_started_at=None, send_attempts=F("send_attempts") - 1,
            next_attempt_at=next_attempt_at,
        )


def calls_start(ids: list[int], claimed_at) -> set[int]:
    """Record that the calls of these messages, claimed at `claimed_at`, start now:
    one UPDATE, committed before any of their requests goes out. Returns the ids
    still held by that claim: only those may be sent (a claim given back meanwhile,
    see `claims_release`, belongs to another send now)."""
    if not ids:
        return set()
    from django.db import connection
    from django.utils import timezone

    connection = connections[connection.alias]
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {q(Message._meta.db_table)} SET {q('call_started_at')} = %s WHERE {q('id')} = ANY(%s) "
            f"AND {q('send_started_at')} = %s AND {q('wamid')} IS NULL AND {q('status')} = %s RETURNING {q('id')}",
            [timezone.now(), list(ids), claimed_at, Status.PENDING],
        )
        return {row[0] for row in cursor.fetchall()}


def calls_unstart(ids: list[int], claimed_at) -> None:
    """Take back the records of calls of the claim taken at `claimed_at` that were
    never made (the sender loop found them late, before writing their request): the
    claim stays held, and a holder that dies now has them given back, not marked
    interrupted. One UPDATE."""
    if ids:
        Message.objects.filter(pk__in=ids, wamid__isnull=True, send_started_at=claimed_at).update(
            call_started_at=None)


def claims_release(ids: list[int], now) -> list[int]:
    """Give back the claims of these messages whose call never started, held longer
    than `unstarted_expiry()` at `now` (their holder is gone): one UPDATE. The
    messages are pending and unclaimed again, their attempt uncounted, and go out
    as any other; a call recorded meanwhile (`calls_start`) keeps its claim.
    Returns the ids given back."""
    if not ids:
        return []
    from django.db import connection

    connection = connections[connection.alias]
    q = connection.ops.quote_name
    media = [kind.value for kind in MEDIA_TYPES]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {q(Message._meta.db_table)} SET {q('send_started_at')} = NULL, "
            f"{q('send_attempts')} = {q('send_attempts')} - 1 WHERE {q('id')} = ANY(%s) AND {q('direction')} = %s "
            f"AND {q('status')} = %s AND {q('wamid')} IS NULL AND {q('call_started_at')} IS NULL "
            f"AND ({q('send_started_at')} < %s AND {q('type')} <> ALL(%s) OR {q('send_started_at')} < %s) "
            f"RETURNING {q('id')}",
            [list(ids), Direction.OUTBOUND, Status.PENDING, now - timedelta(seconds=UNSTARTED_EXPIRY), media,
             now - timedelta(seconds=claim_expiry())],
        )
        return sorted(row[0] for row in cursor.fetchall())


def claims_release_gone(ids: list[int], claimed_at) -> list[int]:
    """Give back the claims taken at `claimed_at` of these messages whose call never
    started, their holder being dead (holders.py): no expiry to wait for. Returns
    the ids given back (a call recorded meanwhile keeps its claim)."""
    if not ids:
        return []
    from django.db import connection

    connection = connections[connection.alias]
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {q(Message._meta.db_table)} SET {q('send_started_at')} = NULL, "
            f"{q('send_attempts')} = {q('send_attempts')} - 1 WHERE {q('id')} = ANY(%s) AND {q('status')} = %s "
            f"AND {q('wamid')} IS NULL AND {q('send_started_at')} = %s AND {q('call_started_at')} IS NULL "
            f"RETURNING {q('id')}",
            [list(ids), Status.PENDING, claimed_at],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _columns():
    """(alias in the statement, model, fields) of each model a claimed row holds."""
    from django.contrib.auth import get_user_model

    from apps.conversations.models import Contact, Conversation
    from apps.whatsapp.models import WhatsAppNumber

    def fields(model, names=None):
        return [f for f in model._meta.concrete_fields if names is None or f.attname in names]

    user = get_user_model()
    return [
        ("m", Message, fields(Message)),
        ("n", WhatsAppNumber, fields(WhatsAppNumber)),
        ("c", Conversation, fields(Conversation, {"id", "organization_id", "number_id", "contact_id", "assignee_id",
                                                   "team_id"})),
        ("k", Contact, fields(Contact, {"id", "wa_id", "user_id"})),
        ("u", user, fields(user, {"id", "username", "first_name", "last_name", "display_name"})),
    ]


_statements: dict = {}


def _statement(connection, by_number: bool):
    """The claim-and-load statement and, per model of its rows, (alias, loader,
    where its columns start and end)."""
    cached = _statements.get((connection.alias, by_number))
    if cached is not None:
        return cached
    from django.contrib.auth import get_user_model

    from apps.conversations.models import Contact, Conversation
    from apps.whatsapp.models import WhatsAppNumber

    q = connection.ops.quote_name
    groups = _columns()
    table = q(Message._meta.db_table)
    claimable = (f"{q('direction')} = %s AND {q('status')} = %s AND {q('wamid')} IS NULL "
                 f"AND {q('send_started_at')} IS NULL")
    ctes = []
    if by_number:
        # The rows to claim are picked once, in a CTE of their own: as a subquery of
        # the UPDATE's WHERE, PostgreSQL may plan it on the inner side of a nested
        # loop and run it again for each row, and each run skips the rows the UPDATE
        # has just taken (SKIP LOCKED) and returns the next ones: one claim took all
        # of a number's waiting messages, whatever its LIMIT.
        media = ", ".join(f"'{kind.value}'" for kind in sorted(MEDIA_TYPES))
        ctes.append(
            f"picked AS MATERIALIZED (SELECT {q('id')} FROM {table} WHERE {q('number_id')} = %s AND {claimable} "
            f"AND {q('next_attempt_at')} IS NULL AND {q('type')} NOT IN ({media}) AND {q('id')} <> %s "
            f"ORDER BY {q('created_at')} LIMIT %s FOR UPDATE SKIP LOCKED)"
        )
        where = f"{q('id')} IN (SELECT {q('id')} FROM picked)"
    else:
        where = f"{q('id')} = ANY(%s) AND {claimable}"
    ctes.append(
        f"m AS (UPDATE {table} SET {q('send_started_at')} = %s, {q('call_started_at')} = NULL, "
        f"{q('send_attempts')} = {q('send_attempts')} + 1, {q('next_attempt_at')} = NULL "
        f"WHERE {where} RETURNING *)"
    )
    select = ", ".join(f"{alias}.{q(f.column)}" for alias, _model, fs in groups for f in fs)
    sql = (
        f"WITH {', '.join(ctes)} "
        f"SELECT {select} FROM m "
        f"JOIN {q(WhatsAppNumber._meta.db_table)} n ON n.{q('id')} = m.{q('number_id')} "
        f"JOIN {q(Conversation._meta.db_table)} c ON c.{q('id')} = m.{q('conversation_id')} "
        f"JOIN {q(Contact._meta.db_table)} k ON k.{q('id')} = c.{q('contact_id')} "
        f"LEFT JOIN {q(get_user_model()._meta.db_table)} u ON u.{q('id')} = m.{q('author_id')} "
        f"ORDER BY m.{q('created_at')}"
    )
    parts, start = [], 0
    for alias, model, fs in groups:
        loader = RowLoader(model, fs, connection)
        parts.append((alias, loader, start, start + len(loader)))
        start += len(loader)
    cached = _statements[(connection.alias, by_number)] = (sql, parts)
    return cached


def _message(parts, row, shared: dict) -> Message:
    objects = {}
    for alias, loader, start, end in parts:
        raw = row[start:end]
        if alias == "n" and shared.get("raw") == raw:
            objects[alias] = shared["number"]
            continue
        if alias == "u" and raw[loader.pk_index] is None:
            objects[alias] = None  # no author
            continue
        objects[alias] = loader.load(raw)
        if alias == "n":
            shared["raw"], shared["number"] = raw, objects[alias]
    message, contact, conversation = objects["m"], objects["k"], objects["c"]
    # The related objects go straight into the instances' caches: the join matched
    # their ids, so the foreign key descriptors' checks (types, routers) have
    # nothing to find.
    conversation._state.fields_cache["contact"] = contact
    cache = message._state.fields_cache
    cache["conversation"], cache["number"], cache["author"] = conversation, objects["n"], objects["u"]
    return message
