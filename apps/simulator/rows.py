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


def _select(model, column: str) -> str:
    q = connection.ops.quote_name
    columns = ", ".join(q(f.column) for f in model._meta.concrete_fields)
    return f"SELECT {columns} FROM {q(model._meta.db_table)} WHERE {q(column)} = %s ORDER BY {q('id')} LIMIT 1"


def get_one(model, column: str, value):
    """The row of `model` whose `column` is `value` (the first by id), or None."""
    key = (connection.alias, model, column)
    cached = _selects.get(key)
    if cached is None:
        cached = _selects[key] = (_select(model, column), _converters(model),
                                  [f.attname for f in model._meta.concrete_fields])
    sql, converters, names = cached
    with connection.cursor() as cursor:
        cursor.execute(sql, [value])
        row = cursor.fetchone()
    if row is None:
        return None
    return _load(model, converters, names, row)


def get_two(first: tuple, second: tuple) -> tuple:
    """`(get_one(*first), get_one(*second))` in one statement (one round trip):
    each of `first` and `second` is (model, column, value)."""
    (model_a, column_a, value_a), (model_b, column_b, value_b) = first, second
    key = (connection.alias, model_a, column_a, model_b, column_b)
    cached = _selects.get(key)
    if cached is None:
        q = connection.ops.quote_name
        a_fields, b_fields = model_a._meta.concrete_fields, model_b._meta.concrete_fields
        columns = ", ".join([f"a.{q(f.column)}" for f in a_fields] + [f"b.{q(f.column)}" for f in b_fields])
        sql = (
            f"SELECT {columns} FROM (SELECT 1 AS one) AS one "
            f"LEFT JOIN ({_select(model_a, column_a)}) AS a ON 1 = 1 "
            f"LEFT JOIN ({_select(model_b, column_b)}) AS b ON 1 = 1"
        )
        cached = _selects[key] = (sql, _converters(model_a), [f.attname for f in a_fields], _converters(model_b),
                                  [f.attname for f in b_fields])
    sql, a_converters, a_names, b_converters, b_names = cached
    with connection.cursor() as cursor:
        cursor.execute(sql, [value_a, value_b])
        row = cursor.fetchone()
    a_row, b_row = row[: len(a_names)], row[len(a_names):]
    pk_a, pk_b = a_names.index(model_a._meta.pk.attname), b_names.index(model_b._meta.pk.attname)
    return (
        None if a_row[pk_a] is None else _load(model_a, a_converters, a_names, a_row),
        None if b_row[pk_b] is None else _load(model_b, b_converters, b_names, b_row),
    )


def _load(model, converters, names, row):
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


def _insert(model) -> tuple[str, list]:
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
    return cached


def _params(model, fields, values: dict) -> list:
    obj = model(**values)
    return [f.get_db_prep_save(f.pre_save(obj, True), connection=connection) for f in fields]


def insert(model, **values) -> None:
    """INSERT one row of `model`, as `model.objects.create(**values)` would store it
    (defaults and auto_now_add filled by the fields themselves), without signals."""
    insert_many([(model, values)])


def insert_many(rows: list[tuple]) -> None:
    """`insert(model, **values)` for each (model, values) of `rows`; on PostgreSQL in
    one statement (each row but the last in a data-modifying WITH), one round trip."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        for model, values in rows:
            sql, fields = _insert(model)
            with connection.cursor() as cursor:
                cursor.execute(sql, _params(model, fields, values))
        return
    parts, params = [], []
    for model, values in rows:
        sql, fields = _insert(model)
        parts.append(sql)
        params += _params(model, fields, values)
    *first, last = parts
    statement = (f"WITH {', '.join(f'r{i} AS ({sql})' for i, sql in enumerate(first))} {last}" if first else last)
    # Server-side binding: Django's cursor quotes every parameter into the SQL text
    # in Python (client-side binding), which for the two JSON documents a call
    # stores was most of the simulator's CPU; psycopg sends them as parameters.
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(statement, params)
