"""The hand-written SQL of messaging's services, each statement in a named function
(apps/messaging/tests/test_sql.py). The sending package keeps its two statements beside
the steps they serve (sending/claim.py: the claim; sending/outcome.py: the answers
stored). The rest of the app uses the ORM."""

from __future__ import annotations

import json

from .models import Direction, Message, Reaction

# Column types a batch's varying values can travel as in one JSON document.
_JSON_ROW_TYPES = {
    "CharField", "TextField", "JSONField", "BooleanField", "IntegerField", "BigIntegerField",
    "PositiveIntegerField", "SmallIntegerField", "PositiveSmallIntegerField", "ForeignKey", "DateTimeField",
}


def messages_insert_new(objs: list[Message]) -> tuple[dict[str, int], set[str]]:
    """INSERT the messages, skipping those whose (number, wamid) is already stored
    (ON CONFLICT DO NOTHING): wamid -> id of the rows this call inserted. The unique
    constraint, not a prior check, decides who stored a message when two workers race.
    Second: the inserted wamids that a reaction of the same number waits for (one that
    arrived before its message).

    The rows travel as one JSON parameter: the values every row shares (number,
    organisation, direction, defaults, the creation time) are bound once, the others
    read from json_to_recordset. The ORM's insert prepared ~40 values per row, one by
    one, and was the largest part of a batch's CPU. The same statement tells which new
    messages a reaction waits for, so a batch without any (nearly all) reads no
    reactions."""
    from django.db import connections, router

    if not objs:
        return {}, set()
    fields = [f for f in Message._meta.concrete_fields if not f.primary_key and not getattr(f, "generated", False)]
    connection = connections[router.db_for_write(Message)]
    template = objs[0]
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = field.pre_save(template, True)  # one creation time for the batch
            for obj in objs:
                setattr(obj, field.attname, value)
    constant, varying = [], []
    for field in fields:
        value = getattr(template, field.attname)
        shared = field.name != "wamid" and all(getattr(obj, field.attname) == value for obj in objs)
        (constant if shared else varying).append(field)
    unfit = {field.get_internal_type() for field in varying} - _JSON_ROW_TYPES
    if unfit:  # a new Message column: teach json_to_recordset its type
        raise TypeError(f"Message columns of type {sorted(unfit)} cannot travel as JSON rows")
    rows = []
    # In wamid order: two drains inserting the same messages (Meta's redeliveries)
    # then wait for each other in one order, never in a cycle (a deadlock).
    for obj in sorted(objs, key=lambda obj: obj.wamid):
        row = {}
        for field in varying:
            value = getattr(obj, field.attname)
            row[field.column] = value.isoformat() if hasattr(value, "isoformat") else value
        rows.append(row)
    qn = connection.ops.quote_name
    select, params = [], []
    for field in fields:
        if field in varying:
            select.append(f"r.{qn(field.column)}")
        else:
            select.append(f"%s::{field.db_type(connection)}")
            params.append(field.get_db_prep_save(getattr(template, field.attname), connection))
    columns = ", ".join(qn(field.column) for field in fields)
    definition = ", ".join(f"{qn(field.column)} {field.db_type(connection)}" for field in varying)
    reaction = Reaction._meta
    waiting = (f"EXISTS (SELECT 1 FROM {qn(reaction.db_table)} AS w "
               f"WHERE w.{qn(reaction.get_field('number').column)} = %s "
               f"AND w.{qn(reaction.get_field('target_wamid').column)} = i.wamid "
               f"AND w.{qn(reaction.get_field('message').column)} IS NULL)")
    sql = (f"WITH i AS (INSERT INTO {qn(Message._meta.db_table)} ({columns}) SELECT {', '.join(select)} "
           f"FROM json_to_recordset(%s::json) AS r({definition}) ON CONFLICT DO NOTHING RETURNING id, wamid) "
           f"SELECT i.id, i.wamid, {waiting} FROM i")
    params.append(json.dumps(rows))
    params.append(template.number_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted, awaited = {}, set()
        for pk, wamid, reaction_waits in cursor.fetchall():
            inserted[wamid] = pk
            if reaction_waits:
                awaited.add(wamid)
        return inserted, awaited


def conversation_read_mark(*, conversation_id: int, at) -> tuple[int, str | None, bool]:
    """Mark the conversation read, in one statement whatever there is to mark: its
    customer's unread messages that have a wamid get `at` as their read time, and its
    unread count goes to 0. Returns how many messages were marked, the wamid of the
    latest of them (its read receipt marks the earlier ones read too) or None, and
    whether the count changed. A conversation opened again (nothing unread) costs one
    statement that changes nothing, as the look before it did; a first open, one instead
    of a look and a transaction of two UPDATEs."""
    from django.db import connections, router

    from apps.conversations.models import Conversation

    connection = connections[router.db_for_write(Message)]
    messages = connection.ops.quote_name(Message._meta.db_table)
    conversations = connection.ops.quote_name(Conversation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH marked AS (UPDATE {messages} SET read_at = %s WHERE conversation_id = %s AND direction = %s "
            "AND read_at IS NULL AND wamid IS NOT NULL RETURNING id, wamid, timestamp), "
            f"reset AS (UPDATE {conversations} SET unread_count = 0 WHERE id = %s AND unread_count > 0 RETURNING id) "
            "SELECT (SELECT count(*) FROM marked), "
            "(SELECT wamid FROM marked ORDER BY timestamp DESC, id DESC LIMIT 1), "
            "EXISTS (SELECT 1 FROM reset)",
            [at, conversation_id, Direction.INBOUND.value, conversation_id],
        )
        count, latest, reset = cursor.fetchone()
    return count, latest, reset
