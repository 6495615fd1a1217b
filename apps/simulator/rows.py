"""Plain SQL for the simulator's per-request rows.

The simulated Graph API reads its settings and the number, and stores the message
and the request log, on every call; through the ORM, building those statements cost
more CPU than running them (the simulator stands in for Meta, so its cost is not
ours to pay in a benchmark of our sending). Same tables, same values: the statements
are built once per model from its fields, and values go through each field's own
conversion (so JSON and encrypted columns are stored and read exactly as the ORM does).
"""

from __future__ import annotations

from django.db import connection

from apps.core.fields import EncryptedTextField

_selects: dict = {}
_inserts: dict = {}
_clear_values: dict = {}


def _converters(model):
    result = []
    for f in model._meta.concrete_fields:
        col = f.get_col(model._meta.db_table)
        convert = connection.ops.get_db_converters(col) + f.get_db_converters(connection)
        result.append((f, col, convert, isinstance(f, EncryptedTextField)))
    return result


def get_one(model, column: str, value):
    """The row of `model` whose `column` is `value` (the first by id), or None."""
    key = (connection.alias, model, column)
    cached = _selects.get(key)
    if cached is None:
        q = connection.ops.quote_name
        columns = ", ".join(q(f.column) for f in model._meta.concrete_fields)
        sql = f"SELECT {columns} FROM {q(model._meta.db_table)} WHERE {q(column)} = %s ORDER BY {q('id')} LIMIT 1"
        cached = _selects[key] = (sql, _converters(model), [f.attname for f in model._meta.concrete_fields])
    sql, converters, names = cached
    with connection.cursor() as cursor:
        cursor.execute(sql, [value])
        row = cursor.fetchone()
    if row is None:
        return None
    values = []
    for raw, (_f, col, convert, encrypted) in zip(row, converters):
        if encrypted and raw and raw in _clear_values:  # decrypted once per process
            values.append(_clear_values[raw])
            continue
        clear = raw
        for c in convert:
            clear = c(clear, col, connection)
        if encrypted and raw:
            if len(_clear_values) >= 1000:
                _clear_values.clear()
            _clear_values[raw] = clear
        values.append(clear)
    return model.from_db(connection.alias, names, values)


def insert(model, **values) -> None:
    """INSERT one row of `model`, as `model.objects.create(**values)` would store it
    (defaults and auto_now_add filled by the fields themselves), without signals."""
    key = (connection.alias, model)
    cached = _inserts.get(key)
    if cached is None:
        q = connection.ops.quote_name
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        sql = (
            f"INSERT INTO {q(model._meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))})"
        )
        cached = _inserts[key] = (sql, fields)
    sql, fields = cached
    obj = model(**values)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection=connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
