"""The hand-written SQL of the inbound pipeline, each statement in a named function
(apps/inbound/tests/test_sql.py). The rest of the app uses the ORM."""

from __future__ import annotations

import json

from django.db import connections
from django.utils import timezone

from .models import WebhookEvent


def delivery_insert(*, provider: str, body: bytes, headers: dict, remote_addr: str | None, signed_by: str) -> None:
    """An authenticated delivery, stored as received: the row the drain will claim,
    written with one plain INSERT (the ORM's save machinery was most of the
    acknowledgement's own time)."""
    using = WebhookEvent.objects.db
    connection = connections[using]
    qn = connection.ops.quote_name
    table = qn(WebhookEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({qn('provider')}, {qn('body')}, {qn('headers')}, {qn('remote_addr')}, "
            f"{qn('signature')}, {qn('signed_by')}, {qn('body_sha256')}, {qn('repeats')}, {qn('status')}, "
            f"{qn('reason')}, {qn('error')}, {qn('attempts')}, {qn('received_at')}) "
            f"VALUES (%s, %s, %s::jsonb, %s::inet, %s, %s, '', 1, %s, '', '', 0, %s)",
            [provider, body, json.dumps(headers), remote_addr or None,
             WebhookEvent.Signature.VALID.value, signed_by, WebhookEvent.Status.RECEIVED.value, timezone.now()],
        )


def delivery_refused_upsert(*, provider: str, body: bytes, digest: str, headers: dict, remote_addr: str | None,
                            signature: str, reason: str, signed_by: str) -> None:
    """A refused delivery in one statement: a new row, or one more repeat on the row of
    the same body (`digest`)."""
    connection = connections[WebhookEvent.objects.db]
    qn = connection.ops.quote_name
    table = qn(WebhookEvent._meta.db_table)
    columns = ", ".join(qn(column) for column in (
        "provider", "body", "headers", "remote_addr", "signature", "signed_by", "body_sha256", "repeats", "status",
        "reason", "error", "attempts", "received_at"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s::jsonb, %s::inet, %s, %s, %s, 1, %s, %s, "
            f"'', 0, %s) ON CONFLICT ({qn('body_sha256')}) WHERE NOT ({qn('body_sha256')} = '') "
            f"DO UPDATE SET {qn('repeats')} = {table}.{qn('repeats')} + 1",
            [provider, body, json.dumps(headers), remote_addr or None, signature, signed_by, digest,
             WebhookEvent.Status.REJECTED.value, reason[:10000], timezone.now()],
        )


def deliveries_save(events: list[WebhookEvent], *, fields: tuple[str, ...]) -> None:
    """Write `fields` of many stored deliveries with one statement: UPDATE … FROM
    (VALUES …) (the ORM's bulk_update builds a CASE per field and row)."""
    connection = connections[WebhookEvent.objects.db]
    qn = connection.ops.quote_name
    columns = [WebhookEvent._meta.get_field(name).column for name in fields]
    types = [WebhookEvent._meta.get_field(name).db_type(connection) for name in fields]
    row = "(%s::bigint, " + ", ".join(f"%s::{db_type}" for db_type in types) + ")"
    params = []
    for event in events:
        params.append(event.pk)
        params.extend(getattr(event, name) for name in fields)
    assignments = ", ".join(f"{qn(column)} = v.{qn(column)}" for column in columns)
    value_columns = ", ".join(qn(column) for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(WebhookEvent._meta.db_table)} AS e SET {assignments} FROM (VALUES "
            f"{', '.join([row] * len(events))}) AS v(id, {value_columns}) WHERE e.id = v.id",
            params,
        )
