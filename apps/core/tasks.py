"""How work leaves a request: `enqueue()` sends a task to the broker once the
current transaction commits; Celery workers run it (the Procfile's worker
processes, in production and in `make demo` alike).

A task is given as the task itself or by its registered name ("bot.reply"): a
service that queues a task of its own app names it, so that the services never
import the tasks module that imports them."""

from __future__ import annotations

import psycopg
from django.db import InterfaceError, OperationalError, transaction

# The errors of a database that does not answer (restarting, connections cut, a pool
# with no connection to give: psycopg_pool.PoolTimeout is a psycopg.OperationalError),
# which a task's retry a little later can get past.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
# The options of a task that finds the database unavailable: retried after 1, 2, 4, then
# 5 s (Celery's backoff), up to about ten minutes; the sweeps cover anything longer.
RETRY_DATABASE = {
    "autoretry_for": DATABASE_UNAVAILABLE, "retry_backoff": 1, "retry_backoff_max": 5,
    # No jitter: Celery's full jitter may draw 0 s, a retry at once against a database still gone.
    "retry_jitter": False,
    "max_retries": 120,  # about 10 minutes
}


def dispatch(task, *args, countdown: float | None = None, **kwargs) -> None:
    """Send a task (or a task name) to the broker now (after commit: see `enqueue`)."""
    if isinstance(task, str):
        from config.celery import app

        app.send_task(task, args=args, kwargs=kwargs, countdown=countdown)
    else:
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown)


def enqueue(task, *args, countdown: float | None = None, **kwargs) -> None:
    """Run `task(*args, **kwargs)` on a worker once the current transaction commits."""
    transaction.on_commit(lambda: dispatch(task, *args, countdown=countdown, **kwargs))
