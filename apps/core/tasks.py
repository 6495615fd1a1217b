"""How work leaves a request: `enqueue()` sends a task to the broker once the
current transaction commits; Celery workers run it (the Procfile's worker
processes, in production and in `make demo` alike)."""

from __future__ import annotations

from django.db import transaction


def dispatch(task, *args, countdown: float | None = None, **kwargs) -> None:
    """Send a task to the broker now (call it after commit: see `enqueue`)."""
    task.apply_async(args=args, kwargs=kwargs, countdown=countdown)


def enqueue(task, *args, countdown: float | None = None, **kwargs) -> None:
    """Run `task(*args, **kwargs)` on a worker once the current transaction commits."""
    transaction.on_commit(lambda: dispatch(task, *args, countdown=countdown, **kwargs))
