"""The simulator's per-request reads and rows, through the ORM, batched across calls.

The simulated Graph API reads its settings and the number, and stores the message
and the request log, on every call. Outside a transaction the calls of a process
hand their reads and rows to one database thread (below), which serves every call
waiting at that moment together: one query per model for the reads, one bulk_create
per model for the rows, so the ORM's cost of building a statement is paid per batch,
not per call (the simulator stands in for Meta: its cost is not ours to pay in a
benchmark of our sending).
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import connection, transaction

logger = logging.getLogger(__name__)


def get_one(model, column: str, value):
    """The row of `model` whose `column` is `value` (the first by id), or None."""
    return model.objects.filter(**{column: value}).order_by("pk").first()


def get_two(first: tuple, second: tuple) -> tuple:
    """`(get_one(*first), get_one(*second))`: each of `first` and `second` is (model, column, value)."""
    return get_one(*first), get_one(*second)


def insert(model, **values) -> None:
    """Store one row of `model`, as `model.objects.create(**values)` would, without signals."""
    insert_many([(model, values)])


def insert_many(rows: list[tuple]) -> None:
    """`insert(model, **values)` for each (model, values) of `rows`: one bulk_create per
    model, all in one transaction (every row stored, or none)."""
    if not rows:
        return
    grouped: dict = {}
    for model, values in rows:
        grouped.setdefault(model, []).append(model(**values))
    with transaction.atomic():
        for model, objects in grouped.items():
            model.objects.bulk_create(objects)


# -- one database thread per process, for the calls of every request thread --------------
# Under load each simulated call made three round trips of its own (the pool's check of
# the connection it took, the read of the settings and the number, the stored rows),
# with a connection checked out per call (it goes back to the pool during the latency).
# Outside a transaction, the calls' reads and rows are handed to one
# thread per process that holds one connection and serves every call waiting at that
# moment together: the settings and the numbers in one query per model, the rows in one
# bulk_create per model (one transaction). A call waits for its own read and for its rows to be stored
# (committed) before it goes on, so what it reads is read after it arrived and what it
# stored is stored before its answer, as before.
class _Job:
    __slots__ = ("args", "callbacks", "done", "error", "kind", "lock", "result")

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
    except Exception:
        logger.warning("simulator database thread: closing its connection failed", exc_info=True)


_database_thread = _DatabaseThread()


def _shared() -> bool:
    """Whether this call's reads and rows go through the process's database thread."""
    return not connection.in_atomic_block


def get_many(model, column: str, values: list) -> dict:
    """{value: the first row of `model` (by id) whose `column` is value} for each of
    `values` found, in one query."""
    result = {}
    for obj in model.objects.filter(**{f"{column}__in": list(values)}).order_by("pk"):
        result.setdefault(getattr(obj, model._meta.get_field(column).attname), obj)
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

    __slots__ = ("job", "thread")

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


class Then:
    """A started store (`store_begin`'s waiter) followed by `after`: the callables run
    once the rows are committed, when the waiter is called (the answer's time), never
    if storing failed. What a request does beyond its rows (the status webhooks of a
    message) happens only if the message was stored: a request answered 500 leaves
    no trace, as at Meta."""

    __slots__ = ("after", "stored")

    def __init__(self, stored, after: list):
        self.stored, self.after = stored, after

    def done(self) -> bool:
        return self.stored.done()

    def when_done(self, callback) -> None:
        if self.stored.done():
            callback()
        else:
            self.stored.when_done(callback)

    def __call__(self):
        result = self.stored()  # raises what storing raised: nothing after runs
        after, self.after = self.after, []
        for callable_ in after:
            callable_()
        return result

