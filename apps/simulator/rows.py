"""Plain SQL for the simulator's per-request rows.

The simulated Graph API reads its settings and the number, and stores the message
and the request log, on every call; through the ORM, building those statements cost
more CPU than running them (the simulator stands in for Meta, so its cost is not
ours to pay in a benchmark of our sending). Same tables, same values: the statements
are built once per model from its fields, and values go through each field's own
conversion (so JSON and encrypted columns are stored and read exactly as the ORM does).
"""

from __future__ import annotations

import logging
import re
import threading
import time

from django.db import connection
from django.db.models import DateTimeField, Field
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from apps.core.rows import RowLoader

logger = logging.getLogger(__name__)

_selects: dict = {}
_inserts: dict = {}
_loaders: dict = {}


def _loader(model) -> RowLoader:
    """The loader of `model`'s whole rows (every concrete field, in order)."""
    key = (connection.alias, model)
    loader = _loaders.get(key)
    if loader is None:
        loader = _loaders[key] = RowLoader(model, list(model._meta.concrete_fields), connection)
    return loader


def _select(model, column: str) -> str:
    q = connection.ops.quote_name
    columns = ", ".join(q(f.column) for f in model._meta.concrete_fields)
    return f"SELECT {columns} FROM {q(model._meta.db_table)} WHERE {q(column)} = %s ORDER BY {q('id')} LIMIT 1"


def get_one(model, column: str, value):
    """The row of `model` whose `column` is `value` (the first by id), or None."""
    key = (connection.alias, model, column)
    sql = _selects.get(key)
    if sql is None:
        sql = _selects[key] = _select(model, column)
    with connection.cursor() as cursor:
        cursor.execute(sql, [value])
        row = cursor.fetchone()
    if row is None:
        return None
    return _loader(model).load(row)


def get_two(first: tuple, second: tuple) -> tuple:
    """`(get_one(*first), get_one(*second))` in one statement (one round trip):
    each of `first` and `second` is (model, column, value)."""
    (model_a, column_a, value_a), (model_b, column_b, value_b) = first, second
    key = (connection.alias, model_a, column_a, model_b, column_b)
    sql = _selects.get(key)
    if sql is None:
        q = connection.ops.quote_name
        a_fields, b_fields = model_a._meta.concrete_fields, model_b._meta.concrete_fields
        columns = ", ".join([f"a.{q(f.column)}" for f in a_fields] + [f"b.{q(f.column)}" for f in b_fields])
        sql = (
            f"SELECT {columns} FROM (SELECT 1 AS one) AS one "
            f"LEFT JOIN ({_select(model_a, column_a)}) AS a ON 1 = 1 "
            f"LEFT JOIN ({_select(model_b, column_b)}) AS b ON 1 = 1"
        )
        _selects[key] = sql
    with connection.cursor() as cursor:
        cursor.execute(sql, [value_a, value_b])
        row = cursor.fetchone()
    a_loader, b_loader = _loader(model_a), _loader(model_b)
    a_row, b_row = row[: len(a_loader)], row[len(a_loader):]
    return (
        None if a_row[a_loader.pk_index] is None else a_loader.load(a_row),
        None if b_row[b_loader.pk_index] is None else b_loader.load(b_row),
    )


def _insert_arrays(model) -> tuple[str, list]:
    """INSERT of `model`'s rows from one array parameter per column."""
    key = (connection.alias, model, "arrays")
    cached = _inserts.get(key)
    if cached is None:
        q = connection.ops.quote_name
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        # Arrays of each column's base type (varchar, not varchar(32)): an explicit cast
        # to a length would cut a longer value, where the INSERT refuses it as the
        # ORM's does. Sent in binary (%b): psycopg's text format escapes every string
        # of an array through a regular expression (0.21 -> 0.09 ms of CPU for a
        # simulated call's two rows).
        arrays = ", ".join(f"%b::{re.sub(r'[(].*[)]', '', f.db_type(connection))}[]" for f in fields)
        sql = (
            f"INSERT INTO {q(model._meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "
            f"SELECT * FROM unnest({arrays})"
        )
        cached = _inserts[key] = (sql, fields)
    return cached


def _params(model, fields, values: dict) -> list:
    """The INSERT's parameters of one row: each field's value as `model(**values)`
    and the field's `pre_save(obj, add=True)` give it, prepared for the database."""
    plan = _plans.get(model, _UNPLANNED)
    if plan is _UNPLANNED:
        plan = _plans[model] = _save_plan(fields)
    if plan is None or not values.keys() <= plan[0] or pre_init.has_listeners(model) or post_init.has_listeners(model):
        obj = model(**values)
        return [f.get_db_prep_save(f.pre_save(obj, True), connection=connection) for f in fields]
    # Without building the instance (Model.__init__ and its signals were a tenth of a
    # simulated call's CPU): a given value, else the field's default; a stamped time.
    params = []
    for f, name, stamped in plan[1]:
        if stamped:
            value = timezone.now()
        else:
            value = values[name] if name in values else f.get_default()
        params.append(f.get_db_prep_save(value, connection=connection))
    return params


_plans: dict = {}
_UNPLANNED = object()


def _save_plan(fields):
    """(the names a row may give, [(field, name, whether pre_save stamps the time)]),
    or None when a field is a relation or its pre_save does anything else."""
    plan = []
    for f in fields:
        pre_save = type(f).pre_save
        if f.is_relation or f.attname != f.name:
            return None
        if pre_save is DateTimeField.pre_save:
            plan.append((f, f.name, bool(f.auto_now or f.auto_now_add)))
        elif pre_save is Field.pre_save:
            plan.append((f, f.name, False))
        else:
            return None
    return {name for _f, name, _stamped in plan}, plan


def insert(model, **values) -> None:
    """INSERT one row of `model`, as `model.objects.create(**values)` would store it
    (defaults and auto_now_add filled by the fields themselves), without signals."""
    insert_many([(model, values)])


def insert_many(rows: list[tuple]) -> None:
    """`insert(model, **values)` for each (model, values) of `rows` in one statement
    (one INSERT per model, all but the last in a data-modifying WITH), one round trip."""
    if not rows:
        return
    # One INSERT per model, its rows as one array per column (unnest): the statement's
    # text is the same whatever the number of rows, so psycopg parses it once (a
    # VALUES list of as many rows was parsed again for every batch: a third of the
    # simulator's CPU under load); the models' INSERTs chained.
    grouped: dict = {}
    for model, values in rows:
        grouped.setdefault(model, []).append(values)
    parts, params = [], []
    for model, many in grouped.items():
        sql, fields = _insert_arrays(model)
        parts.append(sql)
        columns = [[] for _ in fields]
        for values in many:
            for column, value in zip(columns, _params(model, fields, values)):
                column.append(value)
        params += columns
    *first, last = parts
    statement = (f"WITH {', '.join(f'r{i} AS ({sql})' for i, sql in enumerate(first))} {last}" if first else last)
    # Server-side binding: Django's cursor quotes every parameter into the SQL text
    # in Python (client-side binding), which for the two JSON documents a call
    # stores was most of the simulator's CPU; psycopg sends them as parameters.
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(statement, params)


# -- one database thread per process, for the calls of every request thread --------------
# Under load each simulated call made three round trips of its own (the pool's check of
# the connection it took, the read of the settings and the number, the stored rows),
# with a connection checked out per call (it goes back to the pool during the latency).
# Outside a transaction, the calls' reads and rows are handed to one
# thread per process that holds one connection and serves every call waiting at that
# moment together: the settings and the numbers in one read, the rows in one INSERT
# statement (autocommit). A call waits for its own read and for its rows to be stored
# (committed) before it goes on, so what it reads is read after it arrived and what it
# stored is stored before its answer, as before.
class _Job:
    __slots__ = ("kind", "args", "done", "result", "error", "callbacks", "lock")

    def __init__(self, kind: str, args):
        self.kind, self.args = kind, args
        self.done = threading.Event()
        self.result = self.error = None
        self.callbacks: list = []
        self.lock = threading.Lock()

    def finish(self) -> None:
        """Done (once): wake the waiters and run the callbacks."""
        with self.lock:
            if self.done.is_set():
                return
            self.done.set()
            callbacks, self.callbacks = self.callbacks, []
        for callback in callbacks:
            callback()

    def when_done(self, callback) -> None:
        """Run `callback()` when done (at once if it is): from the database thread."""
        with self.lock:
            if not self.done.is_set():
                self.callbacks.append(callback)
                return
        callback()


class _DatabaseThread:
    LINGER = 0.1  # seconds without a call after which a pooled connection goes back
    WAIT = 5.0  # a caller looks again this often that the thread is alive

    def __init__(self):
        self.lock = threading.Lock()
        self.ready = threading.Condition(self.lock)
        self.jobs: list[_Job] = []
        self.thread: threading.Thread | None = None

    def run_job(self, kind: str, args):
        return self.start_job(kind, args)()

    def start_job(self, kind: str, args):
        """Queue a job; returns the function that waits for its result."""
        job = _Job(kind, args)
        with self.lock:
            self.jobs.append(job)
            self._ensure_thread()
            self.ready.notify()
        return _Waiter(self, job)

    def _finish(self, job: _Job):
        while not job.done.wait(timeout=self.WAIT):
            with self.lock:  # a thread that died has told its jobs; a new one serves the queue
                self._ensure_thread()
        if job.error is not None:
            raise job.error
        return job.result

    def _ensure_thread(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._serve, name="simulator-db", daemon=True)
            self.thread.start()

    def _serve(self):
        pooled = bool((connection.settings_dict.get("OPTIONS") or {}).get("pool"))
        held = False  # whether this thread holds a pooled connection
        while True:
            with self.lock:
                while not self.jobs:
                    if not held:
                        self.ready.wait()
                    elif not self.ready.wait(timeout=self.LINGER):
                        _close_quietly()  # back to the pool while nothing comes
                        held = False
                jobs, self.jobs = self.jobs, []
            held = pooled
            try:
                # As Django does around a request: a broken or too old connection is
                # replaced (a database restart fails no more than one batch).
                connection.close_if_unusable_or_obsolete()
                for kind, serve in (("read", self._read), ("write", self._write)):
                    chosen = [job for job in jobs if job.kind == kind]
                    if not chosen:
                        continue
                    try:
                        serve(chosen)
                    except BaseException as exc:  # noqa: BLE001 - every waiting call is told
                        for job in chosen:
                            job.error = job.error or exc
                        _close_quietly()
                    finally:
                        for job in chosen:
                            job.finish()
            except BaseException as exc:  # noqa: BLE001 - the jobs not served yet are told
                for job in jobs:
                    if not job.done.is_set():
                        job.error = job.error or exc
            finally:
                for job in jobs:  # whatever happened, no caller waits for ever
                    job.finish()

    @staticmethod
    def _read(jobs: list[_Job]) -> None:
        """Each job's args: ((model, column, value), ...); its result: the rows, as get_one's."""
        wanted: dict = {}
        for job in jobs:
            for model, column, value in job.args:
                wanted.setdefault((model, column), set()).add(value)
        found = {}
        for (model, column), values in wanted.items():
            for key, obj in get_many(model, column, sorted(values, key=str)).items():
                found[(model, column, key)] = obj
        for job in jobs:
            job.result = tuple(found.get(lookup) for lookup in job.args)

    @staticmethod
    def _write(jobs: list[_Job]) -> None:
        try:
            insert_many([row for job in jobs for row in job.args])
        except Exception:
            _close_quietly()  # a failed statement: a fresh connection for the calls one by one
            if len(jobs) == 1:
                raise
            for job in jobs:  # one call's bad row must not fail the others
                try:
                    insert_many(job.args)
                except Exception as exc:  # noqa: BLE001
                    job.error = exc
                    _close_quietly()


def _close_quietly() -> None:
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - a broken connection is dropped all the same
        logger.warning("simulator database thread: closing its connection failed", exc_info=True)


_database_thread = _DatabaseThread()


def _shared() -> bool:
    """Whether this call's reads and rows go through the process's database thread."""
    return not connection.in_atomic_block


def get_many(model, column: str, values: list) -> dict:
    """{value: the first row of `model` (by id) whose `column` is value} for each of
    `values` found, in one statement."""
    key = (connection.alias, model, column, "many")
    cached = _selects.get(key)
    if cached is None:
        q = connection.ops.quote_name
        columns = ", ".join(q(f.column) for f in model._meta.concrete_fields)
        sql = f"SELECT {columns} FROM {q(model._meta.db_table)} WHERE {q(column)} = ANY(%s) ORDER BY {q('id')}"
        names = [f.attname for f in model._meta.concrete_fields]
        cached = _selects[key] = (sql, names.index(model._meta.get_field(column).attname))
    sql, position = cached
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(values)])
        rows = cursor.fetchall()
    loader = _loader(model)
    result = {}
    for row in rows:
        if row[position] not in result:
            result[row[position]] = loader.load(row)
    return result


def read_two(first: tuple, second: tuple) -> tuple:
    """`get_two(first, second)`: through the database thread when `_shared()`."""
    if not _shared():
        return get_two(first, second)
    return _database_thread.run_job("read", (first, second))


# (alias, first, second) -> (monotonic expiry, the rows read_two found)
_kept: dict = {}


def read_two_kept(first: tuple, second: tuple, seconds: float) -> tuple:
    """`read_two(first, second)`, its rows kept by this process for `seconds`
    (SIMULATOR_CACHE_SECONDS; 0 reads every time): every simulated call reads the
    settings and its number, which change rarely. Only a pair found whole is kept
    (a number added meanwhile is found at once). The rows are shared by the calls
    that find them: read-only. `forget()` drops them (saves in this process)."""
    if seconds <= 0:
        return read_two(first, second)
    key = (connection.alias, first, second)
    now = time.monotonic()
    kept = _kept.get(key)
    if kept is not None and kept[0] > now:
        return kept[1]
    found = read_two(first, second)
    if None in found:  # only rows that exist are kept: one created meanwhile is found at once
        return found
    if len(_kept) >= 1000:
        _kept.clear()
    _kept[key] = (now + seconds, found)
    return found


def forget(**_kwargs) -> None:
    """Drop the kept rows (a signal receiver: a saved setting or number applies at once)."""
    _kept.clear()


def store_many(rows: list[tuple]) -> None:
    """`insert_many(rows)`, committed on return: through the database thread when `_shared()`."""
    store_begin(rows)()


def store_begin(rows: list[tuple]):
    """Start `store_many(rows)` and return the function that waits until the rows are
    committed (raising what storing them raised). Through the database thread the
    caller may do other things meanwhile (the simulated latency); otherwise the rows
    are stored before this returns."""
    if not rows:
        return _STORED
    if not _shared():
        insert_many(rows)
        return _STORED
    return _database_thread.start_job("write", rows)


class _Waiter:
    """A started job: `done()` tells without waiting; calling it waits for the
    result (raising what the job raised)."""

    __slots__ = ("thread", "job")

    def __init__(self, thread=None, job=None):
        self.thread, self.job = thread, job

    def done(self) -> bool:
        return self.job is None or self.job.done.is_set()

    def when_done(self, callback) -> None:
        """Run `callback()` once the job is done (from the thread that finished it),
        or at once: how an event loop waits for the rows without holding a thread."""
        if self.job is None:
            callback()
        else:
            self.job.when_done(callback)

    def __call__(self):
        return None if self.job is None else self.thread._finish(self.job)


_STORED = _Waiter()
