"""How work leaves a request: `enqueue()` after the transaction commits.

settings.TASK_RUNNER picks the runner:
- "celery": the task goes to the broker (production).
- "thread": embedded defaults. A small pool of background threads in the same
  process runs the task, so the request that enqueued it never waits, and a task
  that calls this same server over HTTP (the simulator) cannot deadlock on it.
- "eager": the task runs inline when the transaction commits (the test suite).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, transaction

logger = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="inbox-task")
        return _executor


def _run_in_thread(task, args, kwargs, countdown):
    def run():
        close_old_connections()
        try:
            task.apply(args=args, kwargs=kwargs, throw=False)
        except Exception:  # the task's own error handling already recorded it
            logger.exception("background task %s failed", task.name)
        finally:
            close_old_connections()

    if countdown:
        timer = threading.Timer(countdown, lambda: _pool().submit(run))
        timer.daemon = True
        timer.start()
    else:
        _pool().submit(run)


def dispatch(task, *args, countdown: float | None = None, **kwargs) -> None:
    """Send a task to its runner now (call it after commit: see `enqueue`)."""
    runner = settings.TASK_RUNNER
    if runner == "celery":
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown)
    elif runner == "thread":
        _run_in_thread(task, args, kwargs, countdown)
    else:
        task.apply(args=args, kwargs=kwargs, throw=True)


def enqueue(task, *args, countdown: float | None = None, **kwargs) -> None:
    """Run `task(*args, **kwargs)` once the current transaction commits."""
    transaction.on_commit(lambda: dispatch(task, *args, countdown=countdown, **kwargs))


def drain(timeout: float = 10.0) -> None:
    """Wait until the background threads are idle (tests and management commands)."""
    global _executor
    with _executor_lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True)
