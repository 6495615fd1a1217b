"""The hand-written SQL of conversations, each statement in a named function
(apps/conversations/tests/test_sql.py). The rest of the app uses the ORM."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.utils import timezone

from .models import Conversation


@dataclass(frozen=True)
class Activity:
    """A message in a conversation, as its last activity counts it: the message's
    time and preview, how many customer messages it stands for (0 for the business's
    own; they add to the unread count and move the 24-hour window), and whether it is
    an agent's answer (the first one sets first_response_at)."""

    conversation_id: int
    at: object  # datetime
    preview: str
    customer_messages: int = 0
    answers: bool = False


def conversations_record_activity(*, activities: list[Activity]) -> dict[int, Conversation]:
    """The one writer of conversations' last activity, for any number of them: one
    UPDATE … FROM (VALUES …), the values in id order (two drains updating the same
    conversations tend to take them in the same order). For each, only when the
    message is the newest (a late delivery never moves the preview back): the last
    message's time and preview; the window (last_customer_message_at) likewise for
    customer messages; the unread count grows by the customer messages; an agent's
    first answer sets first_response_at once; updated_at is now.

    The same statement returns the updated conversations, ready for their live events
    (`conversation_event_data`): every column, the assignee's name fields (`assignee`
    holds a User with only those loaded) and the labels (`event_labels`: id, name and
    colour, in the labels' order); the caller sets `contact`. The assignee's and
    labels' subselects see the database as the statement started."""
    from django.db import connections, router

    connection = connections[router.db_for_write(Conversation)]
    if not activities:
        return {}
    returning, conversations, assignees = _record_returning(connection)
    table = connection.ops.quote_name(Conversation._meta.db_table)
    rows = ", ".join(["(%s::bigint, %s::timestamptz, %s::text, %s::integer, %s::boolean)"] * len(activities))
    params = [timezone.now()]
    for activity in sorted(activities, key=lambda activity: activity.conversation_id):
        params.extend([activity.conversation_id, activity.at, activity.preview[:200], activity.customer_messages,
                       activity.answers])
    newer = "(c.last_message_at IS NULL OR c.last_message_at < v.ts)"
    sql = (
        f"UPDATE {table} AS c SET "
        f"last_message_at = CASE WHEN {newer} THEN v.ts ELSE c.last_message_at END, "
        f"last_message_preview = CASE WHEN {newer} THEN v.preview ELSE c.last_message_preview END, "
        "last_customer_message_at = CASE WHEN v.n > 0 AND (c.last_customer_message_at IS NULL "
        "OR c.last_customer_message_at < v.ts) THEN v.ts ELSE c.last_customer_message_at END, "
        "unread_count = c.unread_count + v.n, "
        "first_response_at = CASE WHEN v.answers AND c.first_response_at IS NULL THEN v.ts "
        "ELSE c.first_response_at END, updated_at = %s "
        f"FROM (VALUES {rows}) AS v(id, ts, preview, n, answers) WHERE c.id = v.id RETURNING {returning}"
    )
    found: dict[int, Conversation] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            conversation = conversations.load(row[:len(conversations)])
            assignee_row, label_rows = (_json(value) for value in row[len(conversations):])
            if assignee_row is not None:
                conversation.assignee = assignees.load(assignee_row)
            conversation.event_labels = [{"id": pk, "name": name, "color": color}
                                         for pk, name, color in label_rows or []]
            found[conversation.pk] = conversation
    return found


_returning_cache: dict[str, tuple] = {}


def _record_returning(connection) -> tuple:
    """The RETURNING list of conversations_record_activity and the loaders of its
    rows, built once per database."""
    cached = _returning_cache.get(connection.alias)
    if cached is not None:
        return cached
    from apps.core.rows import RowLoader

    qn = connection.ops.quote_name
    fields = list(Conversation._meta.concrete_fields)
    user_model = Conversation._meta.get_field("assignee").related_model
    user_fields = [f for f in user_model._meta.concrete_fields if f.attname in ("id", *user_model.NAME_FIELDS)]
    label_model = Conversation._meta.get_field("labels").related_model
    through = Conversation._meta.get_field("labels").remote_field.through
    label_order = []
    for name in (*label_model._meta.ordering, "id"):
        descending = name.startswith("-")
        column = qn(label_model._meta.get_field(name.lstrip("-")).column)
        label_order.append(f"l.{column}{' DESC' if descending else ''}")
    assignee = (f"(SELECT json_build_array({', '.join('u.' + qn(f.column) for f in user_fields)}) "
                f"FROM {qn(user_model._meta.db_table)} AS u "
                f"WHERE u.id = c.{qn(Conversation._meta.get_field('assignee').column)})")
    labels = (f"(SELECT json_agg(json_build_array(l.id, l.{qn('name')}, l.{qn('color')}) "
              f"ORDER BY {', '.join(label_order)}) "
              f"FROM {qn(through._meta.db_table)} AS cl JOIN {qn(label_model._meta.db_table)} AS l "
              f"ON l.id = cl.{qn(through._meta.get_field('label').column)} "
              f"WHERE cl.{qn(through._meta.get_field('conversation').column)} = c.id)")
    returning = f"{', '.join('c.' + qn(f.column) for f in fields)}, {assignee}, {labels}"
    cached = _returning_cache[connection.alias] = (
        returning, RowLoader(Conversation, fields, connection), RowLoader(user_model, user_fields, connection))
    return cached


def _json(value):
    return json.loads(value) if isinstance(value, str) else value
